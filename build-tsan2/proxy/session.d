build-tsan2/proxy/session.o: proxy/session.c proxy/session.h \
 proxy/upstream.h proxy/auth.h proxy/log.h proxy/config.h proxy/tls.h \
 proxy/pool.h proxy/resp.h proxy/track.h
proxy/session.h:
proxy/upstream.h:
proxy/auth.h:
proxy/log.h:
proxy/config.h:
proxy/tls.h:
proxy/pool.h:
proxy/resp.h:
proxy/track.h:
