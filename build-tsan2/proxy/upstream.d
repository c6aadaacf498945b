build-tsan2/proxy/upstream.o: proxy/upstream.c proxy/upstream.h \
 proxy/auth.h proxy/log.h proxy/config.h proxy/tls.h proxy/resp.h
proxy/upstream.h:
proxy/auth.h:
proxy/log.h:
proxy/config.h:
proxy/tls.h:
proxy/resp.h:
