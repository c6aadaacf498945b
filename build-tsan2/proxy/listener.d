build-tsan2/proxy/listener.o: proxy/listener.c proxy/listener.h \
 proxy/config.h proxy/log.h
proxy/listener.h:
proxy/config.h:
proxy/log.h:
