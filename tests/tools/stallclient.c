/*
 * stallclient HOST PORT NCMDS KEY: sends NCMDS "GET KEY" commands and never
 * reads a reply, then sleeps until killed.  The backpressure test runs it
 * to prove a client that does not read cannot make the proxy buffer
 * without limit.  Prints "sent N" or "blocked after N" (a write that could
 * not proceed for 2 s: the proxy stopped reading us, as it should).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
    struct sockaddr_in sin;
    char cmd[512];
    int fd, len;
    long n, sent = 0;

    if (argc != 5) {
        fprintf(stderr, "usage: stallclient HOST PORT NCMDS KEY\n");
        return 2;
    }
    n = atol(argv[3]);
    len = snprintf(cmd, sizeof(cmd), "*2\r\n$3\r\nGET\r\n$%zu\r\n%s\r\n",
                   strlen(argv[4]), argv[4]);
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons((unsigned short)atoi(argv[2]));
    inet_pton(AF_INET, argv[1], &sin.sin_addr);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
        perror("stallclient: connect");
        return 1;
    }
    fcntl(fd, F_SETFL, O_NONBLOCK);
    while (sent < n) {
        int off = 0;

        while (off < len) {
            ssize_t w = write(fd, cmd + off, (size_t)(len - off));
            struct pollfd p = {.fd = fd, .events = POLLOUT};

            if (w > 0) {
                off += (int)w;
                continue;
            }
            if (w < 0 && errno != EAGAIN) {
                perror("stallclient: write");
                return 1;
            }
            if (poll(&p, 1, 2000) == 0) {
                printf("blocked after %ld\n", sent);
                fflush(stdout);
                for (;;) {
                    pause();
                }
            }
        }
        sent++;
    }
    printf("sent %ld\n", sent);
    fflush(stdout);
    for (;;) {
        pause();
    }
}
