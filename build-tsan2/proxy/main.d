build-tsan2/proxy/main.o: proxy/main.c proxy/admin.h proxy/listener.h \
 proxy/config.h proxy/log.h proxy/sd.h proxy/service.h proxy/session.h \
 proxy/upstream.h proxy/auth.h proxy/tls.h
proxy/admin.h:
proxy/listener.h:
proxy/config.h:
proxy/log.h:
proxy/sd.h:
proxy/service.h:
proxy/session.h:
proxy/upstream.h:
proxy/auth.h:
proxy/tls.h:
