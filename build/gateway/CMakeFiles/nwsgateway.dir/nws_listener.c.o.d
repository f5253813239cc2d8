gateway/CMakeFiles/nwsgateway.dir/nws_listener.c.o: \
 /work/main/gateway/nws_listener.c /usr/include/stdc-predef.h \
 /work/main/gateway/nws_listener.h /usr/include/libwebsockets.h \
 /usr/lib/gcc/x86_64-linux-gnu/12/include/stdarg.h /usr/include/string.h \
 /usr/include/x86_64-linux-gnu/bits/libc-header-start.h \
 /usr/include/features.h /usr/include/features-time64.h \
 /usr/include/x86_64-linux-gnu/bits/wordsize.h \
 /usr/include/x86_64-linux-gnu/bits/timesize.h \
 /usr/include/x86_64-linux-gnu/sys/cdefs.h \
 /usr/include/x86_64-linux-gnu/bits/long-double.h \
 /usr/include/x86_64-linux-gnu/gnu/stubs.h \
 /usr/include/x86_64-linux-gnu/gnu/stubs-64.h \
 /usr/lib/gcc/x86_64-linux-gnu/12/include/stddef.h \
 /usr/include/x86_64-linux-gnu/bits/types/locale_t.h \
 /usr/include/x86_64-linux-gnu/bits/types/__locale_t.h \
 /usr/include/strings.h /usr/include/stdlib.h \
 /usr/include/x86_64-linux-gnu/bits/waitflags.h \
 /usr/include/x86_64-linux-gnu/bits/waitstatus.h \
 /usr/include/x86_64-linux-gnu/bits/floatn.h \
 /usr/include/x86_64-linux-gnu/bits/floatn-common.h \
 /usr/include/x86_64-linux-gnu/sys/types.h \
 /usr/include/x86_64-linux-gnu/bits/types.h \
 /usr/include/x86_64-linux-gnu/bits/typesizes.h \
 /usr/include/x86_64-linux-gnu/bits/time64.h \
 /usr/include/x86_64-linux-gnu/bits/types/clock_t.h \
 /usr/include/x86_64-linux-gnu/bits/types/clockid_t.h \
 /usr/include/x86_64-linux-gnu/bits/types/time_t.h \
 /usr/include/x86_64-linux-gnu/bits/types/timer_t.h \
 /usr/include/x86_64-linux-gnu/bits/stdint-intn.h /usr/include/endian.h \
 /usr/include/x86_64-linux-gnu/bits/endian.h \
 /usr/include/x86_64-linux-gnu/bits/endianness.h \
 /usr/include/x86_64-linux-gnu/bits/byteswap.h \
 /usr/include/x86_64-linux-gnu/bits/uintn-identity.h \
 /usr/include/x86_64-linux-gnu/sys/select.h \
 /usr/include/x86_64-linux-gnu/bits/select.h \
 /usr/include/x86_64-linux-gnu/bits/types/sigset_t.h \
 /usr/include/x86_64-linux-gnu/bits/types/__sigset_t.h \
 /usr/include/x86_64-linux-gnu/bits/types/struct_timeval.h \
 /usr/include/x86_64-linux-gnu/bits/types/struct_timespec.h \
 /usr/include/x86_64-linux-gnu/bits/pthreadtypes.h \
 /usr/include/x86_64-linux-gnu/bits/thread-shared-types.h \
 /usr/include/x86_64-linux-gnu/bits/pthreadtypes-arch.h \
 /usr/include/x86_64-linux-gnu/bits/atomic_wide_counter.h \
 /usr/include/x86_64-linux-gnu/bits/struct_mutex.h \
 /usr/include/x86_64-linux-gnu/bits/struct_rwlock.h /usr/include/alloca.h \
 /usr/include/x86_64-linux-gnu/bits/stdlib-bsearch.h \
 /usr/include/x86_64-linux-gnu/bits/stdlib-float.h \
 /usr/include/lws_config.h \
 /usr/lib/gcc/x86_64-linux-gnu/12/include/stdint.h /usr/include/stdint.h \
 /usr/include/x86_64-linux-gnu/bits/wchar.h \
 /usr/include/x86_64-linux-gnu/bits/stdint-uintn.h /usr/include/unistd.h \
 /usr/include/x86_64-linux-gnu/bits/posix_opt.h \
 /usr/include/x86_64-linux-gnu/bits/environments.h \
 /usr/include/x86_64-linux-gnu/bits/confname.h \
 /usr/include/x86_64-linux-gnu/bits/getopt_posix.h \
 /usr/include/x86_64-linux-gnu/bits/getopt_core.h \
 /usr/include/x86_64-linux-gnu/bits/unistd_ext.h \
 /usr/include/linux/close_range.h /usr/include/sys/capability.h \
 /usr/include/linux/capability.h /usr/include/linux/types.h \
 /usr/include/x86_64-linux-gnu/asm/types.h \
 /usr/include/asm-generic/types.h /usr/include/asm-generic/int-ll64.h \
 /usr/include/x86_64-linux-gnu/asm/bitsperlong.h \
 /usr/include/asm-generic/bitsperlong.h /usr/include/linux/posix_types.h \
 /usr/include/linux/stddef.h \
 /usr/include/x86_64-linux-gnu/asm/posix_types.h \
 /usr/include/x86_64-linux-gnu/asm/posix_types_64.h \
 /usr/include/asm-generic/posix_types.h /usr/include/poll.h \
 /usr/include/x86_64-linux-gnu/sys/poll.h \
 /usr/include/x86_64-linux-gnu/bits/poll.h /usr/include/netdb.h \
 /usr/include/netinet/in.h /usr/include/x86_64-linux-gnu/sys/socket.h \
 /usr/include/x86_64-linux-gnu/bits/types/struct_iovec.h \
 /usr/include/x86_64-linux-gnu/bits/socket.h \
 /usr/include/x86_64-linux-gnu/bits/socket_type.h \
 /usr/include/x86_64-linux-gnu/bits/sockaddr.h \
 /usr/include/x86_64-linux-gnu/asm/socket.h \
 /usr/include/asm-generic/socket.h \
 /usr/include/x86_64-linux-gnu/asm/sockios.h \
 /usr/include/asm-generic/sockios.h \
 /usr/include/x86_64-linux-gnu/bits/types/struct_osockaddr.h \
 /usr/include/x86_64-linux-gnu/bits/in.h /usr/include/rpc/netdb.h \
 /usr/include/x86_64-linux-gnu/bits/types/sigevent_t.h \
 /usr/include/x86_64-linux-gnu/bits/types/__sigval_t.h \
 /usr/include/x86_64-linux-gnu/bits/netdb.h \
 /usr/include/x86_64-linux-gnu/sys/time.h /usr/include/openssl/ssl.h \
 /usr/include/openssl/macros.h \
 /usr/include/x86_64-linux-gnu/openssl/opensslconf.h \
 /usr/include/x86_64-linux-gnu/openssl/configuration.h \
 /usr/include/openssl/opensslv.h /usr/include/openssl/e_os2.h \
 /usr/include/inttypes.h /usr/include/openssl/comp.h \
 /usr/include/openssl/crypto.h /usr/include/time.h \
 /usr/include/x86_64-linux-gnu/bits/time.h \
 /usr/include/x86_64-linux-gnu/bits/timex.h \
 /usr/include/x86_64-linux-gnu/bits/types/struct_tm.h \
 /usr/include/x86_64-linux-gnu/bits/types/struct_itimerspec.h \
 /usr/include/stdio.h /usr/include/x86_64-linux-gnu/bits/types/__fpos_t.h \
 /usr/include/x86_64-linux-gnu/bits/types/__mbstate_t.h \
 /usr/include/x86_64-linux-gnu/bits/types/__fpos64_t.h \
 /usr/include/x86_64-linux-gnu/bits/types/__FILE.h \
 /usr/include/x86_64-linux-gnu/bits/types/FILE.h \
 /usr/include/x86_64-linux-gnu/bits/types/struct_FILE.h \
 /usr/include/x86_64-linux-gnu/bits/types/cookie_io_functions_t.h \
 /usr/include/x86_64-linux-gnu/bits/stdio_lim.h \
 /usr/include/x86_64-linux-gnu/bits/stdio.h \
 /usr/include/openssl/safestack.h /usr/include/openssl/stack.h \
 /usr/include/openssl/types.h \
 /usr/lib/gcc/x86_64-linux-gnu/12/include/limits.h \
 /usr/lib/gcc/x86_64-linux-gnu/12/include/syslimits.h \
 /usr/include/limits.h /usr/include/x86_64-linux-gnu/bits/posix1_lim.h \
 /usr/include/x86_64-linux-gnu/bits/local_lim.h \
 /usr/include/linux/limits.h \
 /usr/include/x86_64-linux-gnu/bits/pthread_stack_min-dynamic.h \
 /usr/include/x86_64-linux-gnu/bits/posix2_lim.h \
 /usr/include/x86_64-linux-gnu/bits/xopen_lim.h \
 /usr/include/x86_64-linux-gnu/bits/uio_lim.h \
 /usr/include/openssl/cryptoerr.h /usr/include/openssl/symhacks.h \
 /usr/include/openssl/cryptoerr_legacy.h /usr/include/openssl/core.h \
 /usr/include/pthread.h /usr/include/sched.h \
 /usr/include/x86_64-linux-gnu/bits/sched.h \
 /usr/include/x86_64-linux-gnu/bits/types/struct_sched_param.h \
 /usr/include/x86_64-linux-gnu/bits/cpu-set.h \
 /usr/include/x86_64-linux-gnu/bits/setjmp.h \
 /usr/include/x86_64-linux-gnu/bits/types/struct___jmp_buf_tag.h \
 /usr/include/openssl/comperr.h /usr/include/openssl/bio.h \
 /usr/include/openssl/bioerr.h /usr/include/openssl/x509.h \
 /usr/include/openssl/buffer.h /usr/include/openssl/buffererr.h \
 /usr/include/openssl/evp.h /usr/include/openssl/core_dispatch.h \
 /usr/include/openssl/evperr.h /usr/include/openssl/params.h \
 /usr/include/openssl/bn.h /usr/include/openssl/bnerr.h \
 /usr/include/openssl/objects.h /usr/include/openssl/obj_mac.h \
 /usr/include/openssl/asn1.h /usr/include/openssl/asn1err.h \
 /usr/include/openssl/objectserr.h /usr/include/openssl/ec.h \
 /usr/include/openssl/ecerr.h /usr/include/openssl/rsa.h \
 /usr/include/openssl/rsaerr.h /usr/include/openssl/dsa.h \
 /usr/include/openssl/dh.h /usr/include/openssl/dherr.h \
 /usr/include/openssl/dsaerr.h /usr/include/openssl/sha.h \
 /usr/include/openssl/x509err.h /usr/include/openssl/x509_vfy.h \
 /usr/include/openssl/lhash.h /usr/include/openssl/pkcs7.h \
 /usr/include/openssl/pkcs7err.h /usr/include/openssl/http.h \
 /usr/include/openssl/conf.h /usr/include/openssl/conferr.h \
 /usr/include/openssl/conftypes.h /usr/include/openssl/pem.h \
 /usr/include/openssl/pemerr.h /usr/include/openssl/hmac.h \
 /usr/include/openssl/async.h /usr/include/openssl/asyncerr.h \
 /usr/include/openssl/ct.h /usr/include/openssl/cterr.h \
 /usr/include/openssl/sslerr.h /usr/include/openssl/sslerr_legacy.h \
 /usr/include/openssl/prov_ssl.h /usr/include/openssl/ssl2.h \
 /usr/include/openssl/ssl3.h /usr/include/openssl/tls1.h \
 /usr/include/openssl/dtls1.h /usr/include/openssl/srtp.h \
 /usr/include/openssl/err.h /usr/include/errno.h \
 /usr/include/x86_64-linux-gnu/bits/errno.h /usr/include/linux/errno.h \
 /usr/include/x86_64-linux-gnu/asm/errno.h \
 /usr/include/asm-generic/errno.h /usr/include/asm-generic/errno-base.h \
 /usr/include/x86_64-linux-gnu/bits/types/error_t.h \
 /usr/include/libwebsockets/lws-logs.h \
 /usr/include/libwebsockets/lws-dll2.h \
 /usr/include/libwebsockets/lws-timeout-timer.h \
 /usr/include/libwebsockets/lws-smd.h \
 /usr/include/libwebsockets/lws-state.h \
 /usr/include/libwebsockets/lws-retry.h \
 /usr/include/libwebsockets/lws-adopt.h \
 /usr/include/libwebsockets/lws-network-helper.h \
 /usr/include/libwebsockets/lws-system.h \
 /usr/include/libwebsockets/lws-detailed-latency.h \
 /usr/include/libwebsockets/lws-ws-close.h \
 /usr/include/libwebsockets/lws-callbacks.h \
 /usr/include/libwebsockets/lws-ws-state.h \
 /usr/include/libwebsockets/lws-ws-ext.h \
 /usr/include/libwebsockets/lws-protocols-plugins.h \
 /usr/include/libwebsockets/lws-context-vhost.h \
 /usr/include/libwebsockets/lws-client.h \
 /usr/include/libwebsockets/lws-http.h \
 /usr/include/libwebsockets/lws-spa.h \
 /usr/include/libwebsockets/lws-purify.h \
 /usr/include/libwebsockets/lws-misc.h \
 /usr/include/libwebsockets/lws-dsh.h \
 /usr/include/libwebsockets/lws-service.h \
 /usr/include/libwebsockets/lws-write.h \
 /usr/include/libwebsockets/lws-writeable.h \
 /usr/include/libwebsockets/lws-ring.h \
 /usr/include/libwebsockets/lws-sha1-base64.h \
 /usr/include/libwebsockets/lws-x509.h \
 /usr/include/libwebsockets/lws-cgi.h \
 /usr/include/libwebsockets/lws-vfs.h \
 /usr/include/libwebsockets/lws-lejp.h \
 /usr/include/libwebsockets/lws-stats.h \
 /usr/include/libwebsockets/lws-struct.h \
 /usr/include/libwebsockets/lws-threadpool.h \
 /usr/include/libwebsockets/lws-tokenize.h \
 /usr/include/libwebsockets/lws-lwsac.h \
 /usr/include/libwebsockets/lws-fts.h \
 /usr/include/libwebsockets/lws-diskcache.h \
 /usr/include/libwebsockets/lws-sequencer.h \
 /usr/include/libwebsockets/lws-secure-streams.h \
 /usr/include/libwebsockets/lws-secure-streams-policy.h \
 /usr/include/libwebsockets/lws-secure-streams-client.h \
 /usr/include/libwebsockets/abstract/abstract.h \
 /usr/include/libwebsockets/abstract/protocols.h \
 /usr/include/libwebsockets/abstract/protocols/smtp.h \
 /usr/include/libwebsockets/abstract/transports.h \
 /usr/include/libwebsockets/abstract/transports/raw-skt.h \
 /usr/include/libwebsockets/abstract/transports/unit-test.h \
 /usr/include/libwebsockets/lws-test-sequencer.h \
 /usr/include/libwebsockets/lws-async-dns.h \
 /usr/include/libwebsockets/lws-gencrypto.h \
 /usr/include/libwebsockets/lws-genhash.h \
 /usr/include/libwebsockets/lws-genrsa.h \
 /usr/include/libwebsockets/lws-genaes.h \
 /usr/include/libwebsockets/lws-genec.h \
 /usr/include/libwebsockets/lws-jwk.h \
 /usr/include/libwebsockets/lws-jose.h \
 /usr/include/libwebsockets/lws-jws.h \
 /usr/include/libwebsockets/lws-jwe.h \
 /usr/include/libwebsockets/lws-eventlib-exports.h \
 /usr/include/libwebsockets/lws-i2c.h \
 /usr/include/libwebsockets/lws-spi.h \
 /usr/include/libwebsockets/lws-gpio.h \
 /usr/include/libwebsockets/lws-bb-i2c.h \
 /usr/include/libwebsockets/lws-bb-spi.h \
 /usr/include/libwebsockets/lws-button.h \
 /usr/include/libwebsockets/lws-led.h \
 /usr/include/libwebsockets/lws-pwm.h \
 /usr/include/libwebsockets/lws-display.h \
 /usr/include/libwebsockets/lws-ssd1306-i2c.h \
 /usr/include/libwebsockets/lws-ili9341-spi.h \
 /usr/include/libwebsockets/lws-settings.h \
 /usr/include/libwebsockets/lws-netdev.h /usr/include/arpa/inet.h \
 /work/main/proto/include/nws_log.h
