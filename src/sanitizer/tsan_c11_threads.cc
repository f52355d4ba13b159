// C11 threads for ThreadSanitizer builds only (linked into every binary when SMETSMON_SANITIZE
// contains "thread"; see CMakeLists.txt).
//
// Debian's librdkafka is built with C11 threads: its threads come from glibc's thrd_create and its
// locks are mtx_t/cnd_t. glibc implements those on its internal pthread entry points, which
// ThreadSanitizer's runtime (GCC 12, LLVM 14) does not intercept. A thread TSan never saw start
// has no TSan state, so librdkafka's first malloc on it crashes inside the runtime, and locks TSan
// never saw give no happens-before edges. Defining the C11 functions in the executable interposes
// them for librdkafka (the executable comes first in symbol lookup): each forwards to the pthread
// function of the same meaning, which TSan does intercept. glibc's mtx_t and cnd_t are the same
// objects as pthread_mutex_t and pthread_cond_t (same size and alignment, asserted below), and
// thrd_t is pthread_t, so this is what glibc itself does, made visible.
//
// librdkafka's own memory accesses are not instrumented (it is not rebuilt), so TSan checks our
// code and every access the interceptors see; the few interceptor reports from inside librdkafka
// that this cannot order are suppressed by name in tests/tsan.supp, each with its reason.
#include <pthread.h>
#include <threads.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>

static_assert(sizeof(mtx_t) == sizeof(pthread_mutex_t) &&
              alignof(mtx_t) == alignof(pthread_mutex_t));
static_assert(sizeof(cnd_t) == sizeof(pthread_cond_t) && alignof(cnd_t) == alignof(pthread_cond_t));
static_assert(sizeof(thrd_t) == sizeof(pthread_t));

namespace {

struct ThreadStart {
  thrd_start_t function;
  void* argument;
};

void* RunThread(void* start_ptr) {
  ThreadStart start = *static_cast<ThreadStart*>(start_ptr);
  std::free(start_ptr);
  return reinterpret_cast<void*>(static_cast<intptr_t>(start.function(start.argument)));
}

int FromErrno(int rc) {
  switch (rc) {
    case 0:
      return thrd_success;
    case ENOMEM:
      return thrd_nomem;
    case ETIMEDOUT:
      return thrd_timedout;
    case EBUSY:
      return thrd_busy;
    default:
      return thrd_error;
  }
}

pthread_mutex_t* AsPthread(mtx_t* mutex) { return reinterpret_cast<pthread_mutex_t*>(mutex); }
pthread_cond_t* AsPthread(cnd_t* cond) { return reinterpret_cast<pthread_cond_t*>(cond); }

}  // namespace

extern "C" {

int thrd_create(thrd_t* thread, thrd_start_t function, void* argument) {
  auto* start = static_cast<ThreadStart*>(std::malloc(sizeof(ThreadStart)));
  if (start == nullptr) return thrd_nomem;
  *start = ThreadStart{function, argument};
  const int rc = pthread_create(reinterpret_cast<pthread_t*>(thread), nullptr, RunThread, start);
  if (rc != 0) std::free(start);
  return FromErrno(rc);
}

int thrd_join(thrd_t thread, int* result) {
  void* value = nullptr;
  const int rc = pthread_join(static_cast<pthread_t>(thread), &value);
  if (rc == 0 && result != nullptr) *result = static_cast<int>(reinterpret_cast<intptr_t>(value));
  return FromErrno(rc);
}

int thrd_detach(thrd_t thread) { return FromErrno(pthread_detach(static_cast<pthread_t>(thread))); }

int mtx_init(mtx_t* mutex, int type) {
  pthread_mutexattr_t attributes;
  pthread_mutexattr_init(&attributes);
  if ((type & mtx_recursive) != 0) pthread_mutexattr_settype(&attributes, PTHREAD_MUTEX_RECURSIVE);
  const int rc = pthread_mutex_init(AsPthread(mutex), &attributes);
  pthread_mutexattr_destroy(&attributes);
  return FromErrno(rc);
}
int mtx_lock(mtx_t* mutex) { return FromErrno(pthread_mutex_lock(AsPthread(mutex))); }
int mtx_trylock(mtx_t* mutex) { return FromErrno(pthread_mutex_trylock(AsPthread(mutex))); }
int mtx_timedlock(mtx_t* __restrict mutex, const struct timespec* __restrict deadline) {
  return FromErrno(pthread_mutex_timedlock(AsPthread(mutex), deadline));
}
int mtx_unlock(mtx_t* mutex) { return FromErrno(pthread_mutex_unlock(AsPthread(mutex))); }
void mtx_destroy(mtx_t* mutex) { pthread_mutex_destroy(AsPthread(mutex)); }

int cnd_init(cnd_t* cond) { return FromErrno(pthread_cond_init(AsPthread(cond), nullptr)); }
int cnd_signal(cnd_t* cond) { return FromErrno(pthread_cond_signal(AsPthread(cond))); }
int cnd_broadcast(cnd_t* cond) { return FromErrno(pthread_cond_broadcast(AsPthread(cond))); }
int cnd_wait(cnd_t* cond, mtx_t* mutex) {
  return FromErrno(pthread_cond_wait(AsPthread(cond), AsPthread(mutex)));
}
int cnd_timedwait(cnd_t* __restrict cond, mtx_t* __restrict mutex,
                  const struct timespec* __restrict deadline) {
  return FromErrno(pthread_cond_timedwait(AsPthread(cond), AsPthread(mutex), deadline));
}
void cnd_destroy(cnd_t* cond) { pthread_cond_destroy(AsPthread(cond)); }

}  // extern "C"
