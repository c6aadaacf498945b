build-tsan2/proxy/log.o: proxy/log.c proxy/log.h
proxy/log.h:
