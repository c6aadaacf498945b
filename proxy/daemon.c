/*
 * daemon.c: what a daemon owes its host, apart from serving: the checks
 * start-up would fail (--check-config runs them too), the log file, the
 * descriptor limit and the client budget derived from it, the pid file,
 * the drop of privileges and core dumps.  It knows the config, nothing of
 * loops or services; main.c calls it in start-up order.
 */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "log.h"

bool
daemon_env_yes(const char *name)
{
    const char *v = getenv(name);

    return v != NULL && (strcasecmp(v, "yes") == 0 ||
                         strcasecmp(v, "true") == 0 ||
                         strcasecmp(v, "on") == 0 || strcmp(v, "1") == 0);
}

#define FD_RESERVE 32          /* listeners, resolver, admin, logs, ... */

void
daemon_fd_budget(const struct config *cfg, unsigned *cap_out,
                 unsigned *idle_auto_out)
{
    struct rlimit rl;
    unsigned long long want = 0, pools = 0, cap, avail, autos = 0;
    unsigned long long idle_auto, nauto = 0;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
            log_debug("event=rlimit error=\"%s\"", strerror(errno));
        }
    }
    *cap_out = UINT_MAX;
    *idle_auto_out = 0;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY) {
        return;
    }
    for (const struct service_config *sc = cfg->services; sc != NULL;
         sc = sc->next) {
        want += (unsigned long long)sc->max_clients;
        pools += (unsigned long long)sc->pool_min_idle;
        if (sc->pool_max_idle >= 0) {
            pools += (unsigned long long)sc->pool_max_idle;
        } else {
            autos += (unsigned long long)sc->max_clients;
            nauto++;
        }
    }
    /* pool_max_idle = auto keeps up to one idle link per recent client:
     * those services share at most a quarter of the descriptors, and
     * their pools are told their part (budget.idle_auto). */
    avail = rl.rlim_cur > FD_RESERVE ? rl.rlim_cur - FD_RESERVE : 0;
    idle_auto = autos < avail / 4 ? autos : avail / 4;
    pools += idle_auto;
    *idle_auto_out = nauto > 0 && idle_auto / nauto > 0
                               ? (unsigned)(idle_auto / nauto) : 1;
    cap = avail > pools + 2 ? (avail - pools) / 2 : 1;
    *cap_out = cap < UINT_MAX ? (unsigned)cap : UINT_MAX;
    if (cap < want) {
        log_warn("event=fd-limit nofile=%llu clients_max=%llu "
                 "max_clients_total=%llu warning=\"the descriptor limit "
                 "allows fewer clients than max_clients: raise "
                 "LimitNOFILE / ulimit -n\"",
                 (unsigned long long)rl.rlim_cur, cap, want);
    }
}


int
daemon_drop_privileges(const struct config *cfg)
{
    struct passwd *pw = NULL;
    struct group *gr = NULL;
    gid_t gid;

    if (cfg->user == NULL && cfg->group == NULL) {
        return 0;
    }
    if (cfg->user != NULL && (pw = getpwnam(cfg->user)) == NULL) {
        log_error("event=start error=\"%s:%d: user: user %s does not "
                  "exist\"", cfg->file, cfg->global_line[GK_USER], cfg->user);
        return -1;
    }
    if (cfg->group != NULL && (gr = getgrnam(cfg->group)) == NULL) {
        log_error("event=start error=\"%s:%d: group: group %s does not "
                  "exist\"", cfg->file, cfg->global_line[GK_GROUP], cfg->group);
        return -1;
    }
    gid = gr != NULL ? gr->gr_gid : pw->pw_gid;
    if (getegid() != gid || geteuid() == 0) {
        if (setgroups(1, &gid) < 0 || setgid(gid) < 0) {
            log_error("event=start error=\"cannot become group %u: %s\"",
                      (unsigned)gid, strerror(errno));
            return -1;
        }
    }
    if (pw != NULL && geteuid() != pw->pw_uid && setuid(pw->pw_uid) < 0) {
        log_error("event=start error=\"cannot become user %s: %s\"",
                  cfg->user, strerror(errno));
        return -1;
    }
    log_info("event=privileges uid=%u gid=%u", (unsigned)geteuid(),
             (unsigned)getegid());
    return 0;
}

int
daemon_write_pid(const struct config *cfg, int *pid_fd)
{
    char line[32];
    int fd, tries;

    *pid_fd = -1;
    if (cfg->pid_file == NULL) {
        return 0;
    }
    for (tries = 0; tries < 3; tries++) {
        fd = open(cfg->pid_file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
                  O_CLOEXEC, 0644);
        if (fd >= 0 || errno != EEXIST) {
            break;
        }
        /* There already: stale unless somebody holds its lock. */
        fd = open(cfg->pid_file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
            break;
        }
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
            fprintf(stderr, "%s:%d: pid_file: %s is held by a running "
                    "process (another redsleeve?)\n", cfg->file,
                    cfg->global_line[GK_PID_FILE], cfg->pid_file);
            close(fd);
            return -1;
        }
        unlink(cfg->pid_file);
        close(fd);
        fd = -1;
    }
    if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0) {
        fprintf(stderr, "%s:%d: pid_file: cannot create %s: %s\n",
                cfg->file, cfg->global_line[GK_PID_FILE], cfg->pid_file,
                errno == ELOOP ? "it is a symbolic link" : strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    snprintf(line, sizeof(line), "%ld\n", (long)getpid());
    if (write(fd, line, strlen(line)) != (ssize_t)strlen(line)) {
        fprintf(stderr, "%s:%d: pid_file: cannot write %s: %s\n",
                cfg->file, cfg->global_line[GK_PID_FILE], cfg->pid_file,
                strerror(errno));
        unlink(cfg->pid_file);
        close(fd);
        return -1;
    }
    *pid_fd = fd;
    return 0;
}

void
daemon_remove_pid(const char *pid_file, int pid_fd)
{
    if (pid_file == NULL || pid_fd < 0) {
        return;
    }
    if (unlink(pid_file) < 0) {
        log_debug("event=pid-file error=\"%s\"", strerror(errno));
        if (ftruncate(pid_fd, 0) < 0) {
            log_debug("event=pid-file error=\"%s\"", strerror(errno));
        }
    }
    close(pid_fd);
}

/*
 * check_file_writable(cfg, key, line, path, out, outlen): what opening
 * path for writing at start would meet: a symbolic link (refused), a
 * file we may not write, a directory that does not exist or we may not
 * write in.  0, or -1 with "FILE:LINE: key: why" in out.
 */
static int
check_file_writable(const struct config *cfg, const char *key, int line,
                    const char *path, char *out, size_t outlen)
{
    struct stat st;
    char dir[PATH_MAX];

    if (lstat(path, &st) == 0) {
        if (S_ISLNK(st.st_mode)) {
            snprintf(out, outlen, "%s:%d: %s: %s is a symbolic link (not "
                     "followed: name the file itself)", cfg->file, line,
                     key, path);
            return -1;
        }
        if (!S_ISREG(st.st_mode) || access(path, W_OK) < 0) {
            snprintf(out, outlen, "%s:%d: %s: %s cannot be written%s",
                     cfg->file, line, key, path,
                     S_ISREG(st.st_mode) ? "" : " (not a regular file)");
            return -1;
        }
        return 0;
    }
    snprintf(dir, sizeof(dir), "%s", path);
    if (access(dirname(dir), W_OK) < 0) {
        snprintf(dir, sizeof(dir), "%s", path);
        snprintf(out, outlen, "%s:%d: %s: cannot create %s: %s",
                 cfg->file, line, key, path, strerror(errno));
        return -1;
    }
    return 0;
}

/* Appends line and a newline to out (used bytes so far), cutting it
 * short rather than overflowing. */
static void
append_line(char *out, size_t outlen, size_t *used, const char *line)
{
    size_t n = strlen(line);

    if (*used + 2 > outlen) {
        return;
    }
    if (n > outlen - *used - 2) {
        n = outlen - *used - 2;
    }
    memcpy(out + *used, line, n);
    *used += n;
    out[(*used)++] = '\n';
    out[*used] = '\0';
}

int
daemon_preflight(const struct config *cfg, char *out, size_t outlen)
{
    char line[PATH_MAX + 256];
    size_t used = 0;
    int bad = 0;

    out[0] = '\0';
#define PREFLIGHT_ADD() (append_line(out, outlen, &used, line), bad++)
    if (geteuid() == 0 && cfg->user == NULL && !cfg->allow_root &&
        !daemon_env_yes("REDSLEEVE_ALLOW_ROOT")) {
        snprintf(line, sizeof(line), "%s: refusing to run as root: set "
                 "[global] user = (privileges are dropped once the "
                 "listeners are bound and the secrets read), or allow_root "
                 "= yes (or the environment variable "
                 "REDSLEEVE_ALLOW_ROOT=yes) to run as root anyway",
                 cfg->file);
        PREFLIGHT_ADD();
    }
    if (cfg->user != NULL && getpwnam(cfg->user) == NULL) {
        snprintf(line, sizeof(line), "%s:%d: user: user %s does not exist",
                 cfg->file, cfg->global_line[GK_USER], cfg->user);
        PREFLIGHT_ADD();
    }
    if (cfg->group != NULL && getgrnam(cfg->group) == NULL) {
        snprintf(line, sizeof(line), "%s:%d: group: group %s does not "
                 "exist", cfg->file, cfg->global_line[GK_GROUP], cfg->group);
        PREFLIGHT_ADD();
    }
    if (cfg->pid_file != NULL) {
        int fd = open(cfg->pid_file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

        if (fd >= 0 && flock(fd, LOCK_SH | LOCK_NB) < 0) {
            snprintf(line, sizeof(line), "%s:%d: pid_file: %s is held by a "
                     "running process (another redsleeve?)", cfg->file,
                     cfg->global_line[GK_PID_FILE], cfg->pid_file);
            PREFLIGHT_ADD();
        } else if (check_file_writable(cfg, "pid_file", cfg->global_line[GK_PID_FILE],
                                       cfg->pid_file, line,
                                       sizeof(line)) < 0) {
            PREFLIGHT_ADD();
        }
        if (fd >= 0) {
            close(fd);
        }
    }
    if (cfg->log_file != NULL &&
        check_file_writable(cfg, "log_file", cfg->global_line[GK_LOG_FILE],
                            cfg->log_file, line, sizeof(line)) < 0) {
        PREFLIGHT_ADD();
    }
#undef PREFLIGHT_ADD
    return bad ? -1 : 0;
}

void
daemon_set_dumpable(const struct config *cfg)
{
    if (prctl(PR_SET_DUMPABLE, cfg->allow_core_dumps ? 1 : 0, 0, 0, 0) < 0) {
        log_warn("event=start warning=\"prctl(PR_SET_DUMPABLE): %s\"",
                 strerror(errno));
    }
}

void
daemon_log_warnings(const struct config *cfg)
{
    char out[4096];
    char *p = out, *nl;

    if (config_warnings(cfg, out, sizeof(out)) == 0) {
        return;
    }
    while ((nl = strchr(p, '\n')) != NULL) {
        *nl = '\0';
        log_warn("event=exposed warning=\"%s\"", p);
        p = nl + 1;
    }
}

int
daemon_open_log(const struct config *cfg)
{
    int lfd;

    if (cfg->log_file == NULL) {
        return 0;
    }
    /* Never through a symbolic link: we may still be root here. */
    lfd = open(cfg->log_file, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW |
               O_CLOEXEC, 0640);
    if (lfd < 0 || dup2(lfd, STDERR_FILENO) < 0) {
        fprintf(stderr, "%s:%d: log_file: cannot open %s: %s\n", cfg->file,
                cfg->global_line[GK_LOG_FILE], cfg->log_file,
                errno == ELOOP ? "it is a symbolic link" : strerror(errno));
        if (lfd >= 0) {
            close(lfd);
        }
        return -1;
    }
    close(lfd);
    return 0;
}
