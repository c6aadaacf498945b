build-tsan2/proxy/config.o: proxy/config.c proxy/config.h proxy/log.h
proxy/config.h:
proxy/log.h:
