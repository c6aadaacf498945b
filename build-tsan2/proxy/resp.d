build-tsan2/proxy/resp.o: proxy/resp.c proxy/resp.h
proxy/resp.h:
