/*
 * fakeserver MODE PORT: a misbehaving "upstream" on 127.0.0.1:PORT, for
 * the TLS failure tests.  Serves connections one at a time, until killed.
 *   close-after-hello  read the client's first bytes (a ClientHello), close
 *   garbage            read, answer with non-TLS bytes, close
 *   silent             accept and never answer (handshake timeouts)
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_SILENT 64

static int
listen_on(int port)
{
    struct sockaddr_in sin;
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons((unsigned short)port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
        listen(fd, 64) < 0) {
        perror("fakeserver: listen");
        exit(1);
    }
    return fd;
}

int
main(int argc, char **argv)
{
    static const char junk[] = "HTTP/1.1 400 Bad Request\r\n"
                               "Content-Length: 0\r\n\r\n";
    int silent[MAX_SILENT];
    int nsilent = 0;
    int lfd, n = 0;

    if (argc != 3 || (strcmp(argv[1], "close-after-hello") != 0 &&
                      strcmp(argv[1], "garbage") != 0 &&
                      strcmp(argv[1], "silent") != 0)) {
        fprintf(stderr, "usage: fakeserver close-after-hello|garbage|silent "
                "PORT\n");
        return 2;
    }
    lfd = listen_on(atoi(argv[2]));
    for (;;) {
        char buf[4096];
        ssize_t r;
        int fd = accept(lfd, NULL, NULL);

        if (fd < 0) {
            continue;
        }
        n++;
        if (strcmp(argv[1], "silent") == 0) {
            if (nsilent == MAX_SILENT) {
                close(silent[0]);
                memmove(silent, silent + 1, sizeof(int) * (MAX_SILENT - 1));
                nsilent--;
            }
            silent[nsilent++] = fd;
            printf("conn %d held\n", n);
            fflush(stdout);
            continue;
        }
        r = read(fd, buf, sizeof(buf));
        if (strcmp(argv[1], "garbage") == 0 &&
            write(fd, junk, sizeof(junk) - 1) < 0) {
            perror("fakeserver: write");
        }
        printf("conn %d read %zd bytes\n", n, r);
        fflush(stdout);
        close(fd);
    }
}
