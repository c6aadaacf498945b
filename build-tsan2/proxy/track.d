build-tsan2/proxy/track.o: proxy/track.c proxy/track.h proxy/resp.h
proxy/track.h:
proxy/resp.h:
