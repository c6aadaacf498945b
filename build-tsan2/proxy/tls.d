build-tsan2/proxy/tls.o: proxy/tls.c proxy/tls.h proxy/config.h \
 proxy/log.h
proxy/tls.h:
proxy/config.h:
proxy/log.h:
