build-tsan2/proxy/pool.o: proxy/pool.c proxy/pool.h proxy/resp.h \
 proxy/upstream.h proxy/auth.h proxy/log.h proxy/config.h proxy/tls.h
proxy/pool.h:
proxy/resp.h:
proxy/upstream.h:
proxy/auth.h:
proxy/log.h:
proxy/config.h:
proxy/tls.h:
