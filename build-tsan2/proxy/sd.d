build-tsan2/proxy/sd.o: proxy/sd.c proxy/sd.h proxy/log.h
proxy/sd.h:
proxy/log.h:
