/*
 * dnsserver: a tiny authoritative DNS server for tests (libevent's evdns
 * server side) on 127.0.0.1 UDP.
 *
 *   dnsserver ZONEFILE PORTFILE
 *
 * ZONEFILE holds "name address" lines (IPv4 or IPv6), re-read at every
 * query, so a test moves a name by rewriting the file (write a new file
 * and rename it over the old one).  Answers carry TTL 1.  A name with no
 * address of the asked type gets an empty NOERROR answer; an unknown name
 * gets NXDOMAIN.  The bound port is written to PORTFILE.  Each query is
 * logged to stderr as "query NAME TYPE -> N".
 */
#include <arpa/inet.h>
#include <event2/dns.h>
#include <event2/dns_struct.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *zone;

static void
query_cb(struct evdns_server_request *req, void *arg)
{
    int found_name = 0;

    (void)arg;
    for (int i = 0; i < req->nquestions; i++) {
        const struct evdns_server_question *q = req->questions[i];
        char line[512], name[256], addr[128];
        int answers = 0;
        FILE *f = fopen(zone, "r");

        while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
            struct in_addr a4;
            struct in6_addr a6;

            if (sscanf(line, "%255s %127s", name, addr) != 2 ||
                strcasecmp(name, q->name) != 0) {
                continue;
            }
            found_name = 1;
            if (q->type == EVDNS_TYPE_A && inet_pton(AF_INET, addr, &a4) == 1) {
                evdns_server_request_add_a_reply(req, q->name, 1, &a4, 1);
                answers++;
            } else if (q->type == EVDNS_TYPE_AAAA &&
                       inet_pton(AF_INET6, addr, &a6) == 1) {
                evdns_server_request_add_aaaa_reply(req, q->name, 1, &a6, 1);
                answers++;
            }
        }
        if (f != NULL) {
            fclose(f);
        }
        fprintf(stderr, "query %s %s -> %d\n", q->name,
                q->type == EVDNS_TYPE_A ? "A"
                : q->type == EVDNS_TYPE_AAAA ? "AAAA" : "other", answers);
    }
    evdns_server_request_respond(req, found_name ? 0 : DNS_ERR_NOTEXIST);
}

int
main(int argc, char **argv)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);
    struct event_base *base;
    FILE *pf;
    int fd;

    if (argc != 3) {
        fprintf(stderr, "usage: dnsserver ZONEFILE PORTFILE\n");
        return 2;
    }
    zone = argv[1];
    fd = socket(AF_INET, SOCK_DGRAM, 0);
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
        getsockname(fd, (struct sockaddr *)&sin, &len) < 0) {
        perror("dnsserver: socket");
        return 1;
    }
    evutil_make_socket_nonblocking(fd);
    base = event_base_new();
    if (base == NULL ||
        evdns_add_server_port_with_base(base, fd, 0, query_cb, NULL) == NULL) {
        fprintf(stderr, "dnsserver: cannot start\n");
        return 1;
    }
    pf = fopen(argv[2], "w");
    if (pf == NULL) {
        perror(argv[2]);
        return 1;
    }
    fprintf(pf, "%d\n", ntohs(sin.sin_port));
    fclose(pf);
    event_base_dispatch(base);
    return 0;
}
