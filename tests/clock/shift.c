/*
 * The wall clock moved, for every process that loads this library: the tests' way of
 * running on another day ("tests hold on any day"). scripts/at.sh builds it and runs a
 * command with it preloaded; the children it starts (the proxy, the fake, redis-server,
 * Node, Chromium) inherit it, so they all agree on the moved time.
 *
 * MULTISHOT_CLOCK_SHIFT_S (signed seconds) is added to the clocks that tell the date:
 * clock_gettime(CLOCK_REALTIME, _COARSE, _TAI), gettimeofday, time and timespec_get.
 * Monotonic clocks are left alone, so timers and timeouts run as they do.
 *
 * Why not Debian's libfaketime: it cannot start redis-server (jemalloc's first
 * clock_gettime recurses into libfaketime's set-up, which allocates). This library never
 * allocates: until the real functions are resolved it asks the kernel directly.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static long long shift_s;
static int (*real_clock_gettime)(clockid_t, struct timespec *);

__attribute__((constructor)) static void shift_init(void) {
    const char *text = getenv("MULTISHOT_CLOCK_SHIFT_S");
    shift_s = text ? strtoll(text, NULL, 10) : 0;
    real_clock_gettime = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
}

static int unshifted(clockid_t id, struct timespec *ts) {
    if (real_clock_gettime) return real_clock_gettime(id, ts);
    return (int)syscall(SYS_clock_gettime, id, ts);
}

static int tells_the_date(clockid_t id) {
    return id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE || id == CLOCK_TAI;
}

int clock_gettime(clockid_t id, struct timespec *ts) {
    int result = unshifted(id, ts);
    if (result == 0 && ts && tells_the_date(id)) ts->tv_sec += shift_s;
    return result;
}

int gettimeofday(struct timeval *tv, void *tz) {
    (void)tz;
    struct timespec now;
    int result = clock_gettime(CLOCK_REALTIME, &now);
    if (result == 0 && tv) {
        tv->tv_sec = now.tv_sec;
        tv->tv_usec = now.tv_nsec / 1000;
    }
    return result;
}

time_t time(time_t *out) {
    struct timespec now;
    if (clock_gettime(CLOCK_REALTIME, &now) != 0) return (time_t)-1;
    if (out) *out = now.tv_sec;
    return now.tv_sec;
}

int timespec_get(struct timespec *ts, int base) {
    if (base != TIME_UTC || clock_gettime(CLOCK_REALTIME, ts) != 0) return 0;
    return base;
}
