build-tsan2/proxy/admin.o: proxy/admin.c proxy/admin.h proxy/config.h \
 proxy/log.h
proxy/admin.h:
proxy/config.h:
proxy/log.h:
