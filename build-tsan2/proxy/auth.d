build-tsan2/proxy/auth.o: proxy/auth.c proxy/auth.h proxy/log.h
proxy/auth.h:
proxy/log.h:
