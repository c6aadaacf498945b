/*
 * freeport: prints a TCP port that is free on 127.0.0.1 right now (bind to
 * port 0, read it back, close).  Tests use it for servers that cannot
 * report the port they bound themselves (redis-server's tls-port).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int
main(void)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
        getsockname(fd, (struct sockaddr *)&sin, &len) < 0) {
        perror("freeport");
        return 1;
    }
    printf("%d\n", ntohs(sin.sin_port));
    close(fd);
    return 0;
}
