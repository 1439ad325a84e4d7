// scripts/tsan-mutex.c — preloaded by `scripts/test --sanitize thread`; never part of passh.
//
// Swift's Synchronization.Mutex locks and unlocks inline (an atomic compare-exchange in the caller,
// which ThreadSanitizer instruments) and falls back on two functions of libswiftSynchronization.so,
// which is not instrumented: _lockSlow (a spin loop of compare-exchanges, then FUTEX_LOCK_PI, where
// the kernel hands the lock over) and _unlockSlow (FUTEX_UNLOCK_PI). A lock taken or given back on
// those paths is invisible to TSan, which then reports the state two threads take turns on under a
// contended Mutex as a data race (a 12-line program, four threads appending to a Mutex<[Int]>,
// the count always exact, gets the report with Swift 6.3.1). This library wraps the three slow
// paths and tells TSan what they do: an acquire of the Mutex's word once _lockSlow returns (and
// once _tryLockSlow succeeds), a release before _unlockSlow. In a process without TSan (ssh, the
// shell…, which inherit LD_PRELOAD) it only forwards the calls.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdbool.h>
#include <stdint.h>

#define SWIFTCALL __attribute__((swiftcall))
// (clang's swift_context is LLVM's swiftself: the register Swift passes `self` in.)
#define SWIFT_SELF __attribute__((swift_context))

// _MutexHandle's methods: `self` (the address of its Atomic<UInt32> word) in the Swift self register.
typedef SWIFTCALL void (*lock_slow_function)(uint32_t, void *SWIFT_SELF);
typedef SWIFTCALL bool (*try_lock_slow_function)(void *SWIFT_SELF);
typedef SWIFTCALL void (*unlock_slow_function)(void *SWIFT_SELF);
typedef void (*annotation_function)(void *);

#define LOCK_SLOW "$s15Synchronization12_MutexHandleV9_lockSlowyys6UInt32VF"
#define TRY_LOCK_SLOW "$s15Synchronization12_MutexHandleV12_tryLockSlowSbyF"
#define UNLOCK_SLOW "$s15Synchronization12_MutexHandleV11_unlockSlowyyF"

static annotation_function annotation(const char *name) {
    return (annotation_function)dlsym(RTLD_DEFAULT, name);
}

SWIFTCALL void lock_slow(uint32_t self_id, void *SWIFT_SELF handle) __asm__(LOCK_SLOW);
SWIFTCALL void lock_slow(uint32_t self_id, void *SWIFT_SELF handle) {
    static lock_slow_function real;
    static annotation_function acquire;
    if (!real) {
        acquire = annotation("__tsan_acquire");
        real = (lock_slow_function)dlsym(RTLD_NEXT, LOCK_SLOW);
    }
    real(self_id, handle);
    if (acquire) acquire(handle);
}

SWIFTCALL bool try_lock_slow(void *SWIFT_SELF handle) __asm__(TRY_LOCK_SLOW);
SWIFTCALL bool try_lock_slow(void *SWIFT_SELF handle) {
    static try_lock_slow_function real;
    static annotation_function acquire;
    if (!real) {
        acquire = annotation("__tsan_acquire");
        real = (try_lock_slow_function)dlsym(RTLD_NEXT, TRY_LOCK_SLOW);
    }
    bool locked = real(handle);
    if (locked && acquire) acquire(handle);
    return locked;
}

SWIFTCALL void unlock_slow(void *SWIFT_SELF handle) __asm__(UNLOCK_SLOW);
SWIFTCALL void unlock_slow(void *SWIFT_SELF handle) {
    static unlock_slow_function real;
    static annotation_function release;
    if (!real) {
        release = annotation("__tsan_release");
        real = (unlock_slow_function)dlsym(RTLD_NEXT, UNLOCK_SLOW);
    }
    if (release) release(handle);
    real(handle);
}
