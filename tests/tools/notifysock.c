/*
 * notifysock PATH: a stand-in for systemd's notification socket.  Binds a
 * unix datagram socket at PATH and prints each message it receives on
 * one line (newlines inside a message become spaces), until killed.
 */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
    struct sockaddr_un sun;
    char buf[4096];
    int fd;

    if (argc != 2 || strlen(argv[1]) >= sizeof(sun.sun_path)) {
        fprintf(stderr, "usage: notifysock PATH\n");
        return 2;
    }
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    strcpy(sun.sun_path, argv[1]);
    unlink(argv[1]);
    fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
        perror("notifysock");
        return 1;
    }
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);

        if (n < 0) {
            continue;
        }
        buf[n] = '\0';
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] == '\n') {
                buf[i] = ' ';
            }
        }
        printf("%s\n", buf);
        fflush(stdout);
    }
}
