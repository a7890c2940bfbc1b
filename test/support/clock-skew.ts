import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'

/**
 * Runs a process with its wall clock moved by a fixed offset: an LD_PRELOAD library that adds `SKEW_MS`
 * to CLOCK_REALTIME (clock_gettime, gettimeofday, time), leaving the monotonic clocks alone, as a host
 * whose NTP is off would. Debian's libfaketime does the same but cannot start Debian's redis-server:
 * its initialisation recurses through jemalloc's first clock_gettime ("Cannot recover from unexpected
 * recursive calls to clock_gettime()"). This one reads its offset once and allocates nothing, so it
 * can. Compiled with the machine's C compiler on first use (Node's native addons need one anyway).
 */
const SOURCE = `#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>
static long long offset_ns; static int ready;
static int (*real_clock_gettime)(clockid_t, struct timespec *);
static void init(void) {
  const char *ms = getenv("SKEW_MS");
  offset_ns = ms ? atoll(ms) * 1000000LL : 0;
  real_clock_gettime = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
  ready = 1;
}
int clock_gettime(clockid_t id, struct timespec *ts) {
  if (!ready) init();
  int r = real_clock_gettime(id, ts);
  if (r == 0 && (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE)) {
    long long ns = (long long)ts->tv_sec * 1000000000LL + ts->tv_nsec + offset_ns;
    ts->tv_sec = ns / 1000000000LL;
    ts->tv_nsec = ns % 1000000000LL;
  }
  return r;
}
int gettimeofday(struct timeval *tv, void *tz) {
  (void)tz;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  if (tv) { tv->tv_sec = ts.tv_sec; tv->tv_usec = ts.tv_nsec / 1000; }
  return 0;
}
time_t time(time_t *t) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  if (t) *t = ts.tv_sec;
  return ts.tv_sec;
}
`

let built: string | undefined

/** Path of the compiled library; throws one clear line when no C compiler is installed. */
export function clockSkewLibrary(): string {
  if (built) return built
  const dir = path.join(os.tmpdir(), 'cacheward-clock-skew')
  const library = path.join(dir, 'clock-skew.so')
  if (!existsSync(library)) {
    mkdirSync(dir, { recursive: true })
    const source = path.join(dir, 'clock-skew.c')
    writeFileSync(source, SOURCE)
    const out = `${library}.${process.pid}`
    const cc = spawnSync('cc', ['-shared', '-fPIC', '-O2', '-o', out, source, '-ldl'], { encoding: 'utf8' })
    if (cc.error || cc.status !== 0) {
      throw new Error(
        `clock skew: cannot compile the LD_PRELOAD library (install gcc): ${cc.error?.message ?? cc.stderr}`,
      )
    }
    // Renamed into place, so concurrent test files never load a half-written library.
    spawnSync('mv', ['-f', out, library])
  }
  built = library
  return library
}

/** Environment that runs a process with its wall clock `ms` ahead (negative: behind). */
export function skewedClock(ms: number): NodeJS.ProcessEnv {
  return { LD_PRELOAD: clockSkewLibrary(), SKEW_MS: String(Math.round(ms)) }
}
