build-tsan2/proxy/service.o: proxy/service.c proxy/service.h \
 proxy/config.h proxy/log.h proxy/auth.h proxy/listener.h proxy/pool.h \
 proxy/resp.h proxy/upstream.h proxy/tls.h proxy/session.h
proxy/service.h:
proxy/config.h:
proxy/log.h:
proxy/auth.h:
proxy/listener.h:
proxy/pool.h:
proxy/resp.h:
proxy/upstream.h:
proxy/tls.h:
proxy/session.h:
