/*
 * fake_nvml.c - a deterministic fake of NVIDIA's libnvidia-ml.so.1 (NVML) for the
 * Tracelet.Actors tests. Plain C11 + pthreads, no NVIDIA headers.
 *
 * Spec: docs "NVML for Tracelet.Actors: research notes", section 4 (and the ABI
 * facts of sections 1.1-1.5 and 2.1). See README.md next to this file for the
 * build command, the profiles, the environment variables and the control API.
 *
 * Build (current profile):
 *   gcc -std=c11 -O2 -g -Wall -Wextra -Werror -fPIC -shared -fvisibility=hidden \
 *       -Wl,-soname,libnvidia-ml.so.1 -Wl,-Bsymbolic -o $OUT/libnvidia-ml.so.1 fake_nvml.c -lpthread
 * Add -DFAKE_NVML_PROFILE_LEGACY or -DFAKE_NVML_PROFILE_MINIMAL for the variants.
 *
 * Everything that is not an exported NVML or fakenvml_* function is static.
 * All mutable state is guarded by one global mutex; injected latency and hangs
 * sleep with that mutex released, and nvmlEventSetWait(_v2) waits on a
 * CLOCK_MONOTONIC condition variable with the mutex released.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------------------ */
/* Profiles and export macros                                                */
/* ------------------------------------------------------------------------ */

#define FAKE_EXPORT __attribute__((visibility("default")))
#define FAKE_OMITTED static __attribute__((unused))

/*
 * API_CORE: exported in every profile (init, shutdown, error string, counts,
 *           handle by index, name, UUID).
 * API_FULL: exported in `current` and `legacy`.
 * API_NEW:  exported in `current` only (the symbols that `legacy` omits).
 * In a profile that omits a function it is compiled as an unused static
 * function, so it is not exported and every profile builds from one body.
 */
#if defined(FAKE_NVML_PROFILE_MINIMAL)
#define FAKE_PROFILE_NAME "minimal"
#define API_CORE FAKE_EXPORT
#define API_FULL FAKE_OMITTED
#define API_NEW FAKE_OMITTED
#elif defined(FAKE_NVML_PROFILE_LEGACY)
#define FAKE_PROFILE_NAME "legacy"
#define API_CORE FAKE_EXPORT
#define API_FULL FAKE_EXPORT
#define API_NEW FAKE_OMITTED
#else
#define FAKE_PROFILE_NAME "current"
#define API_CORE FAKE_EXPORT
#define API_FULL FAKE_EXPORT
#define API_NEW FAKE_EXPORT
#endif


/* ------------------------------------------------------------------------ */
/* Minimal NVML type definitions (own definitions; layouts per spec §1.4)    */
/* ------------------------------------------------------------------------ */

typedef enum {
    NVML_SUCCESS = 0,
    NVML_ERROR_UNINITIALIZED = 1,
    NVML_ERROR_INVALID_ARGUMENT = 2,
    NVML_ERROR_NOT_SUPPORTED = 3,
    NVML_ERROR_NO_PERMISSION = 4,
    NVML_ERROR_ALREADY_INITIALIZED = 5,
    NVML_ERROR_NOT_FOUND = 6,
    NVML_ERROR_INSUFFICIENT_SIZE = 7,
    NVML_ERROR_INSUFFICIENT_POWER = 8,
    NVML_ERROR_DRIVER_NOT_LOADED = 9,
    NVML_ERROR_TIMEOUT = 10,
    NVML_ERROR_IRQ_ISSUE = 11,
    NVML_ERROR_LIBRARY_NOT_FOUND = 12,
    NVML_ERROR_FUNCTION_NOT_FOUND = 13,
    NVML_ERROR_CORRUPTED_INFOROM = 14,
    NVML_ERROR_GPU_IS_LOST = 15,
    NVML_ERROR_RESET_REQUIRED = 16,
    NVML_ERROR_OPERATING_SYSTEM = 17,
    NVML_ERROR_LIB_RM_VERSION_MISMATCH = 18,
    NVML_ERROR_IN_USE = 19,
    NVML_ERROR_MEMORY = 20,
    NVML_ERROR_NO_DATA = 21,
    NVML_ERROR_VGPU_ECC_NOT_SUPPORTED = 22,
    NVML_ERROR_INSUFFICIENT_RESOURCES = 23,
    NVML_ERROR_FREQ_NOT_SUPPORTED = 24,
    NVML_ERROR_ARGUMENT_VERSION_MISMATCH = 25,
    NVML_ERROR_DEPRECATED = 26,
    NVML_ERROR_NOT_READY = 27,
    NVML_ERROR_UNKNOWN = 999
} nvmlReturn_t;

/* Opaque handles as seen by callers. Internally both point at our own structs. */
typedef struct nvmlDevice_st *nvmlDevice_t;
typedef struct nvmlEventSet_st *nvmlEventSet_t;

typedef enum { NVML_TEMPERATURE_GPU = 0 } nvmlTemperatureSensors_t;
typedef enum { NVML_CLOCK_GRAPHICS = 0, NVML_CLOCK_SM = 1, NVML_CLOCK_MEM = 2, NVML_CLOCK_VIDEO = 3 } nvmlClockType_t;
typedef enum { NVML_PCIE_UTIL_TX_BYTES = 0, NVML_PCIE_UTIL_RX_BYTES = 1 } nvmlPcieUtilCounter_t;
typedef enum { NVML_MEMORY_ERROR_TYPE_CORRECTED = 0, NVML_MEMORY_ERROR_TYPE_UNCORRECTED = 1 } nvmlMemoryErrorType_t;
typedef enum { NVML_VOLATILE_ECC = 0, NVML_AGGREGATE_ECC = 1 } nvmlEccCounterType_t;
typedef enum {
    NVML_MEMORY_LOCATION_L1_CACHE = 0,
    NVML_MEMORY_LOCATION_L2_CACHE = 1,
    NVML_MEMORY_LOCATION_DRAM = 2,
    NVML_MEMORY_LOCATION_REGISTER_FILE = 3,
    NVML_MEMORY_LOCATION_TEXTURE_MEMORY = 4,
    NVML_MEMORY_LOCATION_TEXTURE_SHM = 5,
    NVML_MEMORY_LOCATION_CBU = 6,
    NVML_MEMORY_LOCATION_SRAM = 7
} nvmlMemoryLocation_t;
typedef enum {
    NVML_PAGE_RETIREMENT_CAUSE_MULTIPLE_SINGLE_BIT_ECC_ERRORS = 0,
    NVML_PAGE_RETIREMENT_CAUSE_DOUBLE_BIT_ECC_ERROR = 1
} nvmlPageRetirementCause_t;
typedef enum { NVML_FEATURE_DISABLED = 0, NVML_FEATURE_ENABLED = 1 } nvmlEnableState_t;
typedef enum {
    NVML_VALUE_TYPE_DOUBLE = 0,
    NVML_VALUE_TYPE_UNSIGNED_INT = 1,
    NVML_VALUE_TYPE_UNSIGNED_LONG = 2,
    NVML_VALUE_TYPE_UNSIGNED_LONG_LONG = 3,
    NVML_VALUE_TYPE_SIGNED_LONG_LONG = 4,
    NVML_VALUE_TYPE_SIGNED_INT = 5,
    NVML_VALUE_TYPE_UNSIGNED_SHORT = 6
} nvmlValueType_t;
typedef enum { NVML_PSTATE_0 = 0, NVML_PSTATE_8 = 8, NVML_PSTATE_15 = 15, NVML_PSTATE_UNKNOWN = 32 } nvmlPstates_t;

typedef struct {
    char busIdLegacy[16];
    unsigned int domain;
    unsigned int bus;
    unsigned int device;
    unsigned int pciDeviceId;
    unsigned int pciSubSystemId;
    char busId[32];
} nvmlPciInfo_t;

typedef struct {
    unsigned int gpu;
    unsigned int memory;
} nvmlUtilization_t;

typedef struct {
    unsigned long long total;
    unsigned long long free;
    unsigned long long used;
} nvmlMemory_t;

typedef struct {
    unsigned int version;
    unsigned long long total;
    unsigned long long reserved;
    unsigned long long free;
    unsigned long long used;
} nvmlMemory_v2_t;

typedef struct {
    unsigned int pid;
    unsigned long long usedGpuMemory;
} nvmlProcessInfo_v1_t;

typedef struct {
    unsigned int pid;
    unsigned long long usedGpuMemory;
    unsigned int gpuInstanceId;
    unsigned int computeInstanceId;
} nvmlProcessInfo_t; /* = nvmlProcessInfo_v2_t, used by _v2 and _v3 */

typedef union {
    double dVal;
    int siVal;
    unsigned int uiVal;
    unsigned long ulVal;
    unsigned long long ullVal;
    long long sllVal;
    unsigned short usVal;
} nvmlValue_t;

typedef struct {
    unsigned int fieldId;
    unsigned int scopeId;
    long long timestamp;
    long long latencyUsec;
    nvmlValueType_t valueType;
    nvmlReturn_t nvmlReturn;
    nvmlValue_t value;
} nvmlFieldValue_t;

typedef struct {
    nvmlDevice_t device;
    unsigned long long eventType;
    unsigned long long eventData;
    unsigned int gpuInstanceId;
    unsigned int computeInstanceId;
} nvmlEventData_t;

/* What nvmlEventSetWait (v1) writes: the struct before the MIG gi/ci fields. */
typedef struct {
    nvmlDevice_t device;
    unsigned long long eventType;
    unsigned long long eventData;
} fake_event_data_v1_t;

typedef struct {
    unsigned int version;
    nvmlTemperatureSensors_t sensorType;
    int temperature;
} nvmlTemperature_v1_t;
typedef nvmlTemperature_v1_t nvmlTemperature_t;

#define NVML_MEMORY_V2_VERSION 0x02000028u      /* sizeof 40 | 2 << 24 */
#define NVML_TEMPERATURE_V1_VERSION 0x0100000Cu /* sizeof 12 | 1 << 24 */
#define NVML_INIT_FLAG_NO_GPUS 1u

/* Layout checks (spec §1.4, x86-64). */
_Static_assert(sizeof(int) == 4, "int");
_Static_assert(sizeof(nvmlReturn_t) == 4, "nvmlReturn_t");
_Static_assert(sizeof(nvmlValueType_t) == 4, "nvmlValueType_t");
_Static_assert(sizeof(nvmlDevice_t) == 8, "nvmlDevice_t");
_Static_assert(sizeof(unsigned long) == 8, "unsigned long");
_Static_assert(sizeof(nvmlPciInfo_t) == 68, "nvmlPciInfo_t size");
_Static_assert(_Alignof(nvmlPciInfo_t) == 4, "nvmlPciInfo_t align");
_Static_assert(offsetof(nvmlPciInfo_t, busIdLegacy) == 0, "PciInfo.busIdLegacy");
_Static_assert(offsetof(nvmlPciInfo_t, domain) == 16, "PciInfo.domain");
_Static_assert(offsetof(nvmlPciInfo_t, bus) == 20, "PciInfo.bus");
_Static_assert(offsetof(nvmlPciInfo_t, device) == 24, "PciInfo.device");
_Static_assert(offsetof(nvmlPciInfo_t, pciDeviceId) == 28, "PciInfo.pciDeviceId");
_Static_assert(offsetof(nvmlPciInfo_t, pciSubSystemId) == 32, "PciInfo.pciSubSystemId");
_Static_assert(offsetof(nvmlPciInfo_t, busId) == 36, "PciInfo.busId");
_Static_assert(sizeof(nvmlUtilization_t) == 8, "nvmlUtilization_t size");
_Static_assert(offsetof(nvmlUtilization_t, memory) == 4, "Utilization.memory");
_Static_assert(sizeof(nvmlMemory_t) == 24, "nvmlMemory_t size");
_Static_assert(offsetof(nvmlMemory_t, free) == 8, "Memory.free");
_Static_assert(offsetof(nvmlMemory_t, used) == 16, "Memory.used");
_Static_assert(sizeof(nvmlMemory_v2_t) == 40, "nvmlMemory_v2_t size");
_Static_assert(offsetof(nvmlMemory_v2_t, total) == 8, "Memory_v2.total");
_Static_assert(offsetof(nvmlMemory_v2_t, reserved) == 16, "Memory_v2.reserved");
_Static_assert(offsetof(nvmlMemory_v2_t, free) == 24, "Memory_v2.free");
_Static_assert(offsetof(nvmlMemory_v2_t, used) == 32, "Memory_v2.used");
_Static_assert(NVML_MEMORY_V2_VERSION == ((unsigned)sizeof(nvmlMemory_v2_t) | (2u << 24)), "Memory_v2 version");
_Static_assert(sizeof(nvmlProcessInfo_v1_t) == 16, "nvmlProcessInfo_v1_t size");
_Static_assert(offsetof(nvmlProcessInfo_v1_t, usedGpuMemory) == 8, "ProcessInfo_v1.usedGpuMemory");
_Static_assert(sizeof(nvmlProcessInfo_t) == 24, "nvmlProcessInfo_t size");
_Static_assert(offsetof(nvmlProcessInfo_t, usedGpuMemory) == 8, "ProcessInfo.usedGpuMemory");
_Static_assert(offsetof(nvmlProcessInfo_t, gpuInstanceId) == 16, "ProcessInfo.gpuInstanceId");
_Static_assert(offsetof(nvmlProcessInfo_t, computeInstanceId) == 20, "ProcessInfo.computeInstanceId");
_Static_assert(sizeof(nvmlValue_t) == 8, "nvmlValue_t size");
_Static_assert(sizeof(nvmlFieldValue_t) == 40, "nvmlFieldValue_t size");
_Static_assert(offsetof(nvmlFieldValue_t, scopeId) == 4, "FieldValue.scopeId");
_Static_assert(offsetof(nvmlFieldValue_t, timestamp) == 8, "FieldValue.timestamp");
_Static_assert(offsetof(nvmlFieldValue_t, latencyUsec) == 16, "FieldValue.latencyUsec");
_Static_assert(offsetof(nvmlFieldValue_t, valueType) == 24, "FieldValue.valueType");
_Static_assert(offsetof(nvmlFieldValue_t, nvmlReturn) == 28, "FieldValue.nvmlReturn");
_Static_assert(offsetof(nvmlFieldValue_t, value) == 32, "FieldValue.value");
_Static_assert(sizeof(nvmlEventData_t) == 32, "nvmlEventData_t size");
_Static_assert(offsetof(nvmlEventData_t, eventType) == 8, "EventData.eventType");
_Static_assert(offsetof(nvmlEventData_t, eventData) == 16, "EventData.eventData");
_Static_assert(offsetof(nvmlEventData_t, gpuInstanceId) == 24, "EventData.gpuInstanceId");
_Static_assert(offsetof(nvmlEventData_t, computeInstanceId) == 28, "EventData.computeInstanceId");
_Static_assert(sizeof(fake_event_data_v1_t) == 24, "event data v1 size");
_Static_assert(sizeof(nvmlTemperature_v1_t) == 12, "nvmlTemperature_v1_t size");
_Static_assert(offsetof(nvmlTemperature_v1_t, sensorType) == 4, "Temperature_v1.sensorType");
_Static_assert(offsetof(nvmlTemperature_v1_t, temperature) == 8, "Temperature_v1.temperature");
_Static_assert(NVML_TEMPERATURE_V1_VERSION == ((unsigned)sizeof(nvmlTemperature_v1_t) | (1u << 24)), "Temperature_v1 version");

/* ------------------------------------------------------------------------ */
/* Constants of the fake                                                     */
/* ------------------------------------------------------------------------ */

#define MAX_DEV 16          /* fake_gpu[16] */
#define MIG_SLOTS 8         /* fake_mig[16][8] */
#define MIG_MAX_COUNT 7     /* nvmlDeviceGetMaxMigDeviceCount on the MIG device */
#define UNATTRIBUTED MAX_DEV /* counter slot for calls not tied to a device */
#define EVQ_MAX 256
#define MAGIC_GPU 0x4E564D4Cu /* 'NVML' */
#define MAGIC_MIG 0x4D494744u /* 'MIGD' */
#define MAGIC_SET 0x45565354u /* 'EVST' */

#define GIB 1073741824ULL
#define MIB 1048576ULL

#define EVENT_TYPE_XID 0x0000000000000008ULL
#define SUPPORTED_EVENT_TYPES 0x1FULL
#define NO_INSTANCE 0xFFFFFFFFu

static const char NVML_VERSION_STR[] = "12.550.54.15";
static const char DRIVER_VERSION_STR[] = "550.54.15";
static const char NAME_DEV0[] = "NVIDIA H100 80GB HBM3";
/* 95 bytes of UTF-8 with multi-byte characters (+ NUL = 96 = NVML_DEVICE_NAME_V2_BUFFER_SIZE). */
static const char NAME_DEV1[] = "NVIDIA Fäke GPU ünïcødé Ωμέγα 漢字テスト — ninety-five bytes of UTF-8 ✓ okay";
_Static_assert(sizeof(NAME_DEV1) == 96, "device 1 name must be exactly 95 bytes + NUL");
static const char NAME_MIG[] = "NVIDIA H100 80GB HBM3 MIG 1g.10gb";

/* ------------------------------------------------------------------------ */
/* Function table (names for counters, last_length and the trace)           */
/* ------------------------------------------------------------------------ */

#define FAKE_FUNCS(X)                                                                              \
    X(nvmlInit) X(nvmlInit_v2) X(nvmlInitWithFlags) X(nvmlShutdown) X(nvmlErrorString)             \
    X(nvmlSystemGetDriverVersion) X(nvmlSystemGetNVMLVersion) X(nvmlSystemGetCudaDriverVersion_v2) \
    X(nvmlDeviceGetCount) X(nvmlDeviceGetCount_v2) X(nvmlDeviceGetHandleByIndex_v2)                \
    X(nvmlDeviceGetHandleByUUID) X(nvmlDeviceGetHandleByPciBusId_v2) X(nvmlDeviceGetIndex)         \
    X(nvmlDeviceGetName) X(nvmlDeviceGetUUID) X(nvmlDeviceGetSerial) X(nvmlDeviceGetPciInfo_v3)    \
    X(nvmlDeviceGetCudaComputeCapability) X(nvmlDeviceGetUtilizationRates)                         \
    X(nvmlDeviceGetEncoderUtilization) X(nvmlDeviceGetDecoderUtilization)                          \
    X(nvmlDeviceGetMemoryInfo) X(nvmlDeviceGetMemoryInfo_v2) X(nvmlDeviceGetTemperature)           \
    X(nvmlDeviceGetTemperatureV) X(nvmlDeviceGetPowerUsage) X(nvmlDeviceGetEnforcedPowerLimit)     \
    X(nvmlDeviceGetPowerManagementLimit) X(nvmlDeviceGetTotalEnergyConsumption)                    \
    X(nvmlDeviceGetFanSpeed) X(nvmlDeviceGetFanSpeed_v2) X(nvmlDeviceGetNumFans)                   \
    X(nvmlDeviceGetPerformanceState) X(nvmlDeviceGetClockInfo) X(nvmlDeviceGetMaxClockInfo)        \
    X(nvmlDeviceGetCurrentClocksEventReasons) X(nvmlDeviceGetCurrentClocksThrottleReasons)         \
    X(nvmlDeviceGetSupportedClocksEventReasons) X(nvmlDeviceGetPcieThroughput)                     \
    X(nvmlDeviceGetPcieReplayCounter) X(nvmlDeviceGetCurrPcieLinkGeneration)                       \
    X(nvmlDeviceGetCurrPcieLinkWidth) X(nvmlDeviceGetTotalEccErrors)                               \
    X(nvmlDeviceGetMemoryErrorCounter) X(nvmlDeviceGetRetiredPages) X(nvmlDeviceGetRetiredPages_v2) \
    X(nvmlDeviceGetRetiredPagesPendingStatus) X(nvmlDeviceGetRemappedRows)                         \
    X(nvmlDeviceGetComputeRunningProcesses) X(nvmlDeviceGetComputeRunningProcesses_v2)             \
    X(nvmlDeviceGetComputeRunningProcesses_v3) X(nvmlDeviceGetGraphicsRunningProcesses_v3)         \
    X(nvmlDeviceGetFieldValues) X(nvmlDeviceGetMigMode) X(nvmlDeviceGetMaxMigDeviceCount)          \
    X(nvmlDeviceGetMigDeviceHandleByIndex) X(nvmlDeviceIsMigDeviceHandle)                          \
    X(nvmlDeviceGetDeviceHandleFromMigDeviceHandle) X(nvmlDeviceGetGpuInstanceId)                  \
    X(nvmlDeviceGetComputeInstanceId) X(nvmlEventSetCreate) X(nvmlDeviceGetSupportedEventTypes)    \
    X(nvmlDeviceRegisterEvents) X(nvmlEventSetWait) X(nvmlEventSetWait_v2) X(nvmlEventSetFree)

#define FAKE_FN_ENUM(name) FN_##name,
#define FAKE_FN_NAME(name) #name,
enum { FAKE_FUNCS(FAKE_FN_ENUM) FN_COUNT };
static const char *const fn_names[FN_COUNT] = {FAKE_FUNCS(FAKE_FN_NAME)};

/* ------------------------------------------------------------------------ */
/* State                                                                     */
/* ------------------------------------------------------------------------ */

struct nvmlDevice_st {
    unsigned int magic;      /* MAGIC_GPU or MAGIC_MIG */
    int index;               /* physical index (parent index for MIG) */
    int slot;                /* MIG slot, -1 for a physical GPU */
    unsigned int handed_gen; /* session generation in which this handle was last handed out */
};

struct nvmlEventSet_st {
    unsigned int magic;
    unsigned int gen;   /* session generation at creation */
    int dead;           /* freed (or reset) while a waiter was still inside */
    int waiters;
    unsigned long long mask[MAX_DEV]; /* registered event types per physical device */
    unsigned int lost_reported;        /* bit d: GPU_IS_LOST already reported for device d */
    struct nvmlEventSet_st *next;
};

typedef struct {
    int device_count;         /* 0..16 */
    int mig_device;           /* -2 = auto (1 when count >= 2), -1 = none, else index */
    unsigned int fan_unsupported; /* bitmask of device indices */
    int noperm_device;        /* -1 = none */
    int init_rc;              /* 0 = init succeeds */
    int no_gpu_init_rc;       /* rc of init without NO_GPUS when device_count == 0 (0 = success) */
    int log;
} fake_config_t;

typedef struct {
    int dev;
    int slot; /* -1, or the MIG slot it was injected on */
    unsigned long long xid;
} fake_event_t;

static struct nvmlDevice_st fake_gpu[MAX_DEV];
static struct nvmlDevice_st fake_mig[MAX_DEV][MIG_SLOTS];

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cond;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static atomic_uint g_latency_us;
static atomic_uint g_hang_ms[MAX_DEV];

static struct {
    fake_config_t cfg;
    int env_loaded;
    int refcount;
    unsigned int gen;
    int lost_armed[MAX_DEV];
    unsigned long long lost_remaining[MAX_DEV];
    int lost_tripped[MAX_DEV];
    fake_event_t evq[EVQ_MAX];
    int evq_len;
    struct nvmlEventSet_st *sets;
    unsigned long long calls[FN_COUNT][MAX_DEV + 1];
    unsigned long long nctr[FN_COUNT][MAX_DEV];
    unsigned int last_len[FN_COUNT];
} S;

static void init_once(void)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&g_cond, &attr);
    pthread_condattr_destroy(&attr);
    for (int i = 0; i < MAX_DEV; i++) {
        fake_gpu[i].magic = MAGIC_GPU;
        fake_gpu[i].index = i;
        fake_gpu[i].slot = -1;
        fake_gpu[i].handed_gen = 0;
        for (int s = 0; s < MIG_SLOTS; s++) {
            fake_mig[i][s].magic = MAGIC_MIG;
            fake_mig[i][s].index = i;
            fake_mig[i][s].slot = s;
            fake_mig[i][s].handed_gen = 0;
        }
    }
    S.gen = 1;
}

static void lock(void)
{
    pthread_once(&g_once, init_once);
    pthread_mutex_lock(&g_mu);
}

static void unlock(void) { pthread_mutex_unlock(&g_mu); }

/* ------------------------------------------------------------------------ */
/* Small helpers                                                             */
/* ------------------------------------------------------------------------ */

static void sleep_us(unsigned long long us)
{
    if (us == 0)
        return;
    struct timespec req, rem;
    req.tv_sec = (time_t)(us / 1000000ULL);
    req.tv_nsec = (long)((us % 1000000ULL) * 1000ULL);
    while (nanosleep(&req, &rem) != 0 && errno == EINTR)
        req = rem;
}

/* Latency and hang sleeps happen before the mutex is taken. */
static void pre_sleep(int dev)
{
    unsigned long long us = atomic_load(&g_latency_us);
    if (dev >= 0 && dev < MAX_DEV)
        us += 1000ULL * atomic_load(&g_hang_ms[dev]);
    sleep_us(us);
}

/* Lock-free: is h the address of one of our static handle elements? Pure pointer arithmetic. */
static int handle_peek(nvmlDevice_t h, int *dev, int *slot)
{
    uintptr_t p = (uintptr_t)h;
    uintptr_t g0 = (uintptr_t)&fake_gpu[0];
    uintptr_t m0 = (uintptr_t)&fake_mig[0][0];
    uintptr_t sz = sizeof(struct nvmlDevice_st);
    if (p >= g0 && p < g0 + sizeof(fake_gpu) && (p - g0) % sz == 0) {
        *dev = (int)((p - g0) / sz);
        *slot = -1;
        return 1;
    }
    if (p >= m0 && p < m0 + sizeof(fake_mig) && (p - m0) % sz == 0) {
        int k = (int)((p - m0) / sz);
        *dev = k / MIG_SLOTS;
        *slot = k % MIG_SLOTS;
        return 1;
    }
    return 0;
}

static int mig_dev(void)
{
    int m = S.cfg.mig_device;
    if (m == -2)
        m = S.cfg.device_count >= 2 ? 1 : -1;
    return (m >= 0 && m < S.cfg.device_count) ? m : -1;
}

static int mig_slot_populated(int slot) { return slot == 0 || slot == 3; }
static unsigned int mig_gi(int slot) { return slot == 0 ? 1u : slot == 3 ? 2u : NO_INSTANCE; }
static unsigned int mig_ci(int slot) { return mig_slot_populated(slot) ? 0u : NO_INSTANCE; }

/* Under the lock: validate magic, bounds, session generation and MIG population. */
static int handle_resolve(nvmlDevice_t h, int *dev, int *slot)
{
    if (!handle_peek(h, dev, slot))
        return 0;
    const struct nvmlDevice_st *e = (const struct nvmlDevice_st *)h;
    if (e->magic != (*slot < 0 ? MAGIC_GPU : MAGIC_MIG))
        return 0;
    if (e->handed_gen != S.gen)
        return 0;
    if (*dev >= S.cfg.device_count)
        return 0;
    if (*slot >= 0 && (*dev != mig_dev() || !mig_slot_populated(*slot)))
        return 0;
    return 1;
}

static nvmlDevice_t hand_gpu(int i)
{
    fake_gpu[i].handed_gen = S.gen;
    return &fake_gpu[i];
}

static nvmlDevice_t hand_mig(int i, int slot)
{
    fake_mig[i][slot].handed_gen = S.gen;
    return &fake_mig[i][slot];
}

static void trip_lost(int dev)
{
    S.lost_tripped[dev] = 1;
    S.lost_armed[dev] = 0;
    S.lost_remaining[dev] = 0;
    pthread_cond_broadcast(&g_cond);
}

/* A "guarded call" on a device: trips the lost state once its budget is spent. */
static nvmlReturn_t lost_guard(int dev)
{
    if (S.lost_tripped[dev])
        return NVML_ERROR_GPU_IS_LOST;
    if (S.lost_armed[dev]) {
        if (S.lost_remaining[dev] == 0) {
            trip_lost(dev);
            return NVML_ERROR_GPU_IS_LOST;
        }
        S.lost_remaining[dev]--;
    }
    return NVML_SUCCESS;
}

static void set_lost_locked(int dev, long long after_calls)
{
    if (dev < 0 || dev >= MAX_DEV)
        return;
    if (after_calls < 0) { /* un-lose (extension) */
        S.lost_armed[dev] = 0;
        S.lost_tripped[dev] = 0;
        S.lost_remaining[dev] = 0;
        for (struct nvmlEventSet_st *s = S.sets; s; s = s->next)
            s->lost_reported &= ~(1u << dev);
        return;
    }
    if (S.lost_tripped[dev])
        return;
    if (after_calls == 0) {
        trip_lost(dev);
    } else {
        S.lost_armed[dev] = 1;
        S.lost_remaining[dev] = (unsigned long long)after_calls;
    }
}

static void push_event_locked(int dev, int slot, unsigned long long xid)
{
    if (dev < 0 || dev >= MAX_DEV || S.evq_len >= EVQ_MAX)
        return;
    S.evq[S.evq_len].dev = dev;
    S.evq[S.evq_len].slot = (slot >= 0 && slot < MIG_SLOTS) ? slot : -1;
    S.evq[S.evq_len].xid = xid;
    S.evq_len++;
    pthread_cond_broadcast(&g_cond);
}

static nvmlReturn_t put_str(char *buf, unsigned int length, const char *s)
{
    if (!buf)
        return NVML_ERROR_INVALID_ARGUMENT;
    size_t req = strlen(s) + 1;
    if ((size_t)length < req)
        return NVML_ERROR_INSUFFICIENT_SIZE; /* write nothing */
    memcpy(buf, s, req);                     /* exactly strlen+1 bytes */
    return NVML_SUCCESS;
}

static void gpu_uuid(int i, char out[64]) { snprintf(out, 64, "GPU-00000000-0000-4000-8000-0000000000%02x", (unsigned)i & 0xFFu); }

static void mig_uuid(int i, int slot, char out[64])
{
    snprintf(out, 64, "MIG-00000000-0000-4000-8000-00000001%04x", (((unsigned)i & 0xFFu) << 8) | ((unsigned)slot & 0xFFu));
}

static const char *gpu_name(int i, char out[64])
{
    if (i == 0)
        return NAME_DEV0;
    if (i == 1)
        return NAME_DEV1;
    snprintf(out, 64, "NVIDIA Fake GPU %d", i);
    return out;
}

/* Static per-index device properties (independent of the MIG setting). */
static int ecc_supported(int i) { return i != 1; }
static unsigned int nvlink_count(int i) { return i == 1 ? 0u : 18u; }
static int fan_supported(int i) { return !((S.cfg.fan_unsupported >> i) & 1u); }

/* ------------------------------------------------------------------------ */
/* Call prologue / epilogue                                                  */
/* ------------------------------------------------------------------------ */

typedef struct {
    int fn;
    int dev;  /* physical index the call is attributed to, or -1 */
    int slot; /* MIG slot, or -1 */
} call_t;

/* Device-handle function: sleeps (unlocked), locks, counts, checks init, handle, lost. */
static nvmlReturn_t dev_begin(call_t *c, int fn, nvmlDevice_t h)
{
    int d = -1, s = -1;
    c->fn = fn;
    c->dev = -1;
    c->slot = -1;
    pre_sleep(handle_peek(h, &d, &s) ? d : -1);
    lock();
    if (S.refcount == 0) {
        S.calls[fn][UNATTRIBUTED]++;
        return NVML_ERROR_UNINITIALIZED;
    }
    if (!handle_resolve(h, &d, &s)) {
        S.calls[fn][UNATTRIBUTED]++;
        return NVML_ERROR_INVALID_ARGUMENT;
    }
    c->dev = d;
    c->slot = s;
    S.calls[fn][d]++;
    return lost_guard(d);
}

/* Device-index function (GetHandleByIndex_v2). */
static nvmlReturn_t idx_begin(call_t *c, int fn, unsigned int index)
{
    c->fn = fn;
    c->dev = -1;
    c->slot = -1;
    pre_sleep(index < MAX_DEV ? (int)index : -1);
    lock();
    if (S.refcount == 0) {
        S.calls[fn][UNATTRIBUTED]++;
        return NVML_ERROR_UNINITIALIZED;
    }
    if (index >= (unsigned int)S.cfg.device_count) {
        S.calls[fn][UNATTRIBUTED]++;
        return NVML_ERROR_INVALID_ARGUMENT;
    }
    c->dev = (int)index;
    S.calls[fn][index]++;
    return lost_guard((int)index);
}

/* Function without a device argument. */
static nvmlReturn_t sys_begin(call_t *c, int fn, int need_init, int latency)
{
    c->fn = fn;
    c->dev = -1;
    c->slot = -1;
    if (latency)
        pre_sleep(-1);
    lock();
    S.calls[fn][UNATTRIBUTED]++;
    if (need_init && S.refcount == 0)
        return NVML_ERROR_UNINITIALIZED;
    return NVML_SUCCESS;
}

/* Move a sys_begin call onto a device once it is known (handle lookups by UUID / bus id). */
static void attribute(call_t *c, int dev)
{
    S.calls[c->fn][UNATTRIBUTED]--;
    S.calls[c->fn][dev]++;
    c->dev = dev;
}

static void note_len(call_t *c, unsigned int len) { S.last_len[c->fn] = len; }

/* n: prior calls of this function on this physical device that got past argument validation. */
static unsigned long long peek_n(const call_t *c)
{
    if (c->dev < 0 || c->slot >= 0)
        return 0; /* MIG-handle values do not depend on n */
    return S.nctr[c->fn][c->dev];
}

static unsigned long long take_n(call_t *c)
{
    unsigned long long n = peek_n(c);
    if (c->dev >= 0 && c->slot < 0)
        S.nctr[c->fn][c->dev]++;
    return n;
}

static nvmlReturn_t call_end(call_t *c, nvmlReturn_t rc)
{
    if (S.cfg.log) {
        if (c->slot >= 0)
            fprintf(stderr, "fake-nvml[%s]: %s dev=%d mig=%d rc=%d\n", FAKE_PROFILE_NAME, fn_names[c->fn], c->dev,
                    c->slot, (int)rc);
        else
            fprintf(stderr, "fake-nvml[%s]: %s dev=%d rc=%d\n", FAKE_PROFILE_NAME, fn_names[c->fn], c->dev, (int)rc);
    }
    unlock();
    return rc;
}

#define DEV_BEGIN(name, h)                                   \
    call_t c_;                                               \
    nvmlReturn_t rc = dev_begin(&c_, FN_##name, (h));        \
    if (rc != NVML_SUCCESS)                                  \
    goto done_
/* Same, and records `len` for fakenvml_last_length whatever the outcome (when has_len). */
#define DEV_BEGIN_LEN(name, h, has_len, len)                 \
    call_t c_;                                               \
    nvmlReturn_t rc = dev_begin(&c_, FN_##name, (h));        \
    if (has_len)                                             \
        note_len(&c_, (len));                                \
    if (rc != NVML_SUCCESS)                                  \
    goto done_
#define FAIL(code)          \
    do {                    \
        rc = (code);        \
        goto done_;         \
    } while (0)
#define END()   \
    done_:      \
    return call_end(&c_, rc)
#define IS_MIG (c_.slot >= 0)
#define DEV (c_.dev)

/* ------------------------------------------------------------------------ */
/* Configuration: environment and fakenvml_configure                         */
/* ------------------------------------------------------------------------ */

static void trim(char **s)
{
    char *b = *s;
    while (*b == ' ' || *b == '\t' || *b == '\n' || *b == '\r')
        b++;
    char *e = b + strlen(b);
    while (e > b && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
        *--e = '\0';
    *s = b;
}

/* Parse a whole string as a base-10 (or 0x-prefixed) integer in [lo, hi]. */
static int parse_ll(const char *s, long long lo, long long hi, long long *out)
{
    if (!s)
        return 0;
    while (*s == ' ' || *s == '\t')
        s++;
    if (*s == '\0')
        return 0;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 0);
    if (errno != 0 || end == s)
        return 0;
    while (*end == ' ' || *end == '\t')
        end++;
    if (*end != '\0' || v < lo || v > hi)
        return 0;
    *out = v;
    return 1;
}

static int parse_ull(const char *s, unsigned long long *out)
{
    if (!s)
        return 0;
    while (*s == ' ' || *s == '\t')
        s++;
    if (*s == '\0' || *s == '-')
        return 0;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno != 0 || end == s)
        return 0;
    while (*end == ' ' || *end == '\t')
        end++;
    if (*end != '\0')
        return 0;
    *out = v;
    return 1;
}

/* "0,2" -> bitmask. Empty string or "none" -> 0. */
static int parse_dev_list(const char *s, unsigned int *mask)
{
    char buf[256];
    if (!s || strlen(s) >= sizeof(buf))
        return 0;
    strcpy(buf, s);
    char *t = buf;
    trim(&t);
    unsigned int m = 0;
    if (*t == '\0' || strcmp(t, "none") == 0 || strcmp(t, "-1") == 0) {
        *mask = 0;
        return 1;
    }
    char *save = NULL;
    for (char *tok = strtok_r(t, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        long long v;
        if (!parse_ll(tok, 0, MAX_DEV - 1, &v))
            return 0;
        m |= 1u << v;
    }
    *mask = m;
    return 1;
}

/* "<dev>[@<after_calls>]" */
static int parse_lost(const char *s, int *dev, long long *after)
{
    char buf[64];
    if (!s || strlen(s) >= sizeof(buf))
        return 0;
    strcpy(buf, s);
    char *at = strchr(buf, '@');
    long long d, a = 0;
    if (at) {
        *at = '\0';
        if (!parse_ll(at + 1, 0, LLONG_MAX, &a))
            return 0;
    }
    if (!parse_ll(buf, 0, MAX_DEV - 1, &d))
        return 0;
    *dev = (int)d;
    *after = a;
    return 1;
}

/* "<dev>[/<slot>]:<xid>[,...]" -> up to max events. */
static int parse_xids(const char *s, fake_event_t *ev, int max, int *count)
{
    char buf[1024];
    if (!s || strlen(s) >= sizeof(buf))
        return 0;
    strcpy(buf, s);
    int k = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(tok, ':');
        if (!colon)
            return 0;
        *colon = '\0';
        char *slash = strchr(tok, '/');
        long long d, sl = -1;
        unsigned long long x;
        if (slash) {
            *slash = '\0';
            if (!parse_ll(slash + 1, 0, MIG_SLOTS - 1, &sl))
                return 0;
        }
        if (!parse_ll(tok, 0, MAX_DEV - 1, &d) || !parse_ull(colon + 1, &x) || k >= max)
            return 0;
        ev[k].dev = (int)d;
        ev[k].slot = (int)sl;
        ev[k].xid = x;
        k++;
    }
    *count = k;
    return 1;
}

static void default_config(fake_config_t *c)
{
    c->device_count = 2;
    c->mig_device = -2;
    c->fan_unsupported = 1u; /* device 0 */
    c->noperm_device = -1;
    c->init_rc = 0;
    c->no_gpu_init_rc = 0;
    c->log = 0;
}

static void env_warn(const char *name, const char *val)
{
    fprintf(stderr, "fake-nvml[%s]: ignoring %s=%s (invalid value)\n", FAKE_PROFILE_NAME, name, val);
}

static void load_env_locked(void)
{
    const char *v;
    long long x;
    S.env_loaded = 1;
    if ((v = getenv("FAKE_NVML_LOG")) != NULL) {
        if (parse_ll(v, 0, 1, &x))
            S.cfg.log = (int)x;
        else
            env_warn("FAKE_NVML_LOG", v);
    }
    if ((v = getenv("FAKE_NVML_DEVICE_COUNT")) != NULL) {
        if (parse_ll(v, 0, MAX_DEV, &x))
            S.cfg.device_count = (int)x;
        else
            env_warn("FAKE_NVML_DEVICE_COUNT", v);
    }
    if ((v = getenv("FAKE_NVML_INIT_RC")) != NULL) {
        if (parse_ll(v, INT_MIN, INT_MAX, &x))
            S.cfg.init_rc = (int)x;
        else
            env_warn("FAKE_NVML_INIT_RC", v);
    }
    if ((v = getenv("FAKE_NVML_NO_GPU_INIT_RC")) != NULL) {
        if (parse_ll(v, INT_MIN, INT_MAX, &x))
            S.cfg.no_gpu_init_rc = (int)x;
        else
            env_warn("FAKE_NVML_NO_GPU_INIT_RC", v);
    }
    if ((v = getenv("FAKE_NVML_NOPERM_DEVICE")) != NULL) {
        if (parse_ll(v, -1, MAX_DEV - 1, &x))
            S.cfg.noperm_device = (int)x;
        else
            env_warn("FAKE_NVML_NOPERM_DEVICE", v);
    }
    if ((v = getenv("FAKE_NVML_MIG_DEVICE")) != NULL) {
        if (strcmp(v, "auto") == 0)
            S.cfg.mig_device = -2;
        else if (parse_ll(v, -1, MAX_DEV - 1, &x))
            S.cfg.mig_device = (int)x;
        else
            env_warn("FAKE_NVML_MIG_DEVICE", v);
    }
    if ((v = getenv("FAKE_NVML_FAN_UNSUPPORTED")) != NULL) {
        unsigned int m;
        if (parse_dev_list(v, &m))
            S.cfg.fan_unsupported = m;
        else
            env_warn("FAKE_NVML_FAN_UNSUPPORTED", v);
    }
    if ((v = getenv("FAKE_NVML_LOST")) != NULL) {
        int d;
        long long a;
        if (parse_lost(v, &d, &a))
            set_lost_locked(d, a);
        else
            env_warn("FAKE_NVML_LOST", v);
    }
    if ((v = getenv("FAKE_NVML_XID")) != NULL) {
        fake_event_t ev[EVQ_MAX];
        int k;
        if (parse_xids(v, ev, EVQ_MAX, &k)) {
            for (int j = 0; j < k; j++)
                push_event_locked(ev[j].dev, ev[j].slot, ev[j].xid);
        } else {
            env_warn("FAKE_NVML_XID", v);
        }
    }
}

static void ensure_env_locked(void)
{
    /* The first use after load starts from the defaults, as fakenvml_reset() does: the zeroed
       static state would otherwise mean 0 devices and device 0 without permission. */
    if (!S.env_loaded) {
        default_config(&S.cfg);
        load_env_locked();
    }
}

static void free_all_sets_locked(void)
{
    struct nvmlEventSet_st *s = S.sets;
    S.sets = NULL;
    while (s) {
        struct nvmlEventSet_st *next = s->next;
        s->magic = 0;
        s->next = NULL;
        if (s->waiters > 0)
            s->dead = 1; /* the last waiter frees it */
        else
            free(s);
        s = next;
    }
}

static void reset_locked(void)
{
    free_all_sets_locked();
    default_config(&S.cfg);
    S.refcount = 0;
    S.gen++; /* invalidates every handle */
    memset(S.lost_armed, 0, sizeof(S.lost_armed));
    memset(S.lost_remaining, 0, sizeof(S.lost_remaining));
    memset(S.lost_tripped, 0, sizeof(S.lost_tripped));
    S.evq_len = 0;
    memset(S.calls, 0, sizeof(S.calls));
    memset(S.nctr, 0, sizeof(S.nctr));
    memset(S.last_len, 0, sizeof(S.last_len));
    atomic_store(&g_latency_us, 0u);
    for (int i = 0; i < MAX_DEV; i++)
        atomic_store(&g_hang_ms[i], 0u);
    S.env_loaded = 0;
    load_env_locked();
    pthread_cond_broadcast(&g_cond);
}

/* ------------------------------------------------------------------------ */
/* Control and introspection API (exported in every profile)                 */
/* ------------------------------------------------------------------------ */

FAKE_EXPORT const char *fakenvml_marker(void) { return "tracelet-fake-nvml"; }

FAKE_EXPORT const char *fakenvml_profile(void) { return FAKE_PROFILE_NAME; }

FAKE_EXPORT void fakenvml_reset(void)
{
    lock();
    reset_locked();
    unlock();
}

FAKE_EXPORT int fakenvml_configure(const char *kv)
{
    if (!kv)
        return -1;
    size_t len = strlen(kv);
    char *buf = malloc(len + 1);
    if (!buf)
        return -1;
    memcpy(buf, kv, len + 1);

    lock();
    ensure_env_locked();
    fake_config_t cfg = S.cfg;
    int lost_dev = -1;
    long long lost_after = 0;
    int have_latency = 0;
    unsigned int latency = 0;
    fake_event_t ev[EVQ_MAX];
    int nev = 0;
    int ok = 1;

    char *save = NULL;
    for (char *item = strtok_r(buf, ";", &save); item && ok; item = strtok_r(NULL, ";", &save)) {
        trim(&item);
        if (*item == '\0')
            continue;
        char *eq = strchr(item, '=');
        if (!eq) {
            ok = 0;
            break;
        }
        *eq = '\0';
        char *key = item, *val = eq + 1;
        trim(&key);
        trim(&val);
        long long x;
        if (strcmp(key, "devices") == 0) {
            ok = parse_ll(val, 0, MAX_DEV, &x);
            if (ok)
                cfg.device_count = (int)x;
        } else if (strcmp(key, "mig_device") == 0) {
            if (strcmp(val, "auto") == 0)
                cfg.mig_device = -2;
            else if ((ok = parse_ll(val, -1, MAX_DEV - 1, &x)))
                cfg.mig_device = (int)x;
        } else if (strcmp(key, "fan_unsupported") == 0) {
            ok = parse_dev_list(val, &cfg.fan_unsupported);
        } else if (strcmp(key, "noperm_device") == 0) {
            ok = parse_ll(val, -1, MAX_DEV - 1, &x);
            if (ok)
                cfg.noperm_device = (int)x;
        } else if (strcmp(key, "init_rc") == 0) {
            ok = parse_ll(val, INT_MIN, INT_MAX, &x);
            if (ok)
                cfg.init_rc = (int)x;
        } else if (strcmp(key, "no_gpu_init_rc") == 0) {
            ok = parse_ll(val, INT_MIN, INT_MAX, &x);
            if (ok)
                cfg.no_gpu_init_rc = (int)x;
        } else if (strcmp(key, "log") == 0) {
            ok = parse_ll(val, 0, 1, &x);
            if (ok)
                cfg.log = (int)x;
        } else if (strcmp(key, "latency_us") == 0) {
            ok = parse_ll(val, 0, UINT_MAX, &x);
            if (ok) {
                have_latency = 1;
                latency = (unsigned int)x;
            }
        } else if (strcmp(key, "lost") == 0) {
            ok = parse_lost(val, &lost_dev, &lost_after);
        } else if (strcmp(key, "xid") == 0) {
            int k = 0;
            ok = parse_xids(val, ev + nev, EVQ_MAX - nev, &k);
            if (ok)
                nev += k;
        } else {
            ok = 0;
        }
    }
    if (ok) {
        S.cfg = cfg;
        if (have_latency)
            atomic_store(&g_latency_us, latency);
        if (lost_dev >= 0)
            set_lost_locked(lost_dev, lost_after);
        for (int j = 0; j < nev; j++)
            push_event_locked(ev[j].dev, ev[j].slot, ev[j].xid);
        pthread_cond_broadcast(&g_cond);
    }
    unlock();
    free(buf);
    return ok ? 0 : -1;
}

static int fn_lookup(const char *fn)
{
    if (!fn)
        return -1;
    for (int i = 0; i < FN_COUNT; i++)
        if (strcmp(fn_names[i], fn) == 0)
            return i;
    return -1;
}

FAKE_EXPORT unsigned long long fakenvml_call_count(const char *fn, int dev)
{
    int f = fn_lookup(fn);
    if (f < 0)
        return 0;
    unsigned long long r = 0;
    lock();
    if (dev == -1) {
        for (int i = 0; i <= MAX_DEV; i++)
            r += S.calls[f][i];
    } else if (dev >= 0 && dev < MAX_DEV) {
        r = S.calls[f][dev];
    }
    unlock();
    return r;
}

FAKE_EXPORT unsigned int fakenvml_last_length(const char *fn)
{
    int f = fn_lookup(fn);
    if (f < 0)
        return 0;
    lock();
    unsigned int r = S.last_len[f];
    unlock();
    return r;
}

FAKE_EXPORT int fakenvml_refcount(void)
{
    lock();
    ensure_env_locked();
    int r = S.refcount;
    unlock();
    return r;
}

FAKE_EXPORT void fakenvml_set_init_result(int rc)
{
    lock();
    ensure_env_locked();
    S.cfg.init_rc = rc;
    unlock();
}

FAKE_EXPORT void fakenvml_set_gpu_lost(int dev, int after_calls)
{
    lock();
    ensure_env_locked();
    set_lost_locked(dev, after_calls);
    unlock();
}

FAKE_EXPORT void fakenvml_inject_xid(int dev, unsigned long long xid)
{
    lock();
    ensure_env_locked();
    push_event_locked(dev, -1, xid);
    unlock();
}

FAKE_EXPORT void fakenvml_inject_xid_mig(int dev, int slot, unsigned long long xid)
{
    lock();
    ensure_env_locked();
    push_event_locked(dev, slot, xid);
    unlock();
}

FAKE_EXPORT void fakenvml_set_latency_us(unsigned int us)
{
    lock();
    ensure_env_locked();
    atomic_store(&g_latency_us, us);
    unlock();
}

FAKE_EXPORT void fakenvml_set_hang(int dev, unsigned int ms)
{
    if (dev < 0 || dev >= MAX_DEV)
        return;
    lock();
    ensure_env_locked();
    atomic_store(&g_hang_ms[dev], ms);
    unlock();
}

/* ------------------------------------------------------------------------ */
/* Init / system                                                             */
/* ------------------------------------------------------------------------ */

static nvmlReturn_t do_init(int fn, unsigned int flags, int v1)
{
    call_t c_;
    nvmlReturn_t rc = sys_begin(&c_, fn, 0, 0);
    ensure_env_locked();
    if (S.cfg.init_rc != 0) {
        rc = (nvmlReturn_t)S.cfg.init_rc;
    } else if (S.cfg.device_count == 0 && !(flags & NVML_INIT_FLAG_NO_GPUS) && S.cfg.no_gpu_init_rc != 0) {
        rc = (nvmlReturn_t)S.cfg.no_gpu_init_rc;
    } else {
        rc = NVML_SUCCESS;
        if (v1) { /* nvmlInit v1 initialises every GPU and fails if one is in a bad state */
            for (int i = 0; i < S.cfg.device_count; i++)
                if (S.lost_tripped[i])
                    rc = NVML_ERROR_GPU_IS_LOST;
        }
        if (rc == NVML_SUCCESS)
            S.refcount++;
    }
    return call_end(&c_, rc);
}

API_CORE nvmlReturn_t nvmlInit_v2(void) { return do_init(FN_nvmlInit_v2, 0, 0); }
API_CORE nvmlReturn_t nvmlInit(void) { return do_init(FN_nvmlInit, 0, 1); }
API_CORE nvmlReturn_t nvmlInitWithFlags(unsigned int flags) { return do_init(FN_nvmlInitWithFlags, flags, 0); }

API_CORE nvmlReturn_t nvmlShutdown(void)
{
    call_t c_;
    sys_begin(&c_, FN_nvmlShutdown, 0, 0);
    if (S.refcount > 0) {
        S.refcount--;
        if (S.refcount == 0) {
            S.gen++; /* every handle of the session becomes stale */
            pthread_cond_broadcast(&g_cond);
        }
    }
    return call_end(&c_, NVML_SUCCESS); /* SUCCESS even when not initialised (observed on 535) */
}

static const char *error_text(int rc)
{
    switch (rc) {
    case 0: return "Success";
    case 1: return "Uninitialized";
    case 2: return "Invalid Argument";
    case 3: return "Not Supported";
    case 4: return "Insufficient Permissions";
    case 5: return "Already Initialized";
    case 6: return "Not Found";
    case 7: return "Insufficient Size";
    case 8: return "Insufficient External Power";
    case 9: return "Driver Not Loaded";
    case 10: return "Timeout";
    case 11: return "Interrupt Request Issue";
    case 12: return "NVML Shared Library Not Found";
    case 13: return "Function Not Found";
    case 14: return "Corrupted infoROM";
    case 15: return "GPU is lost";
    case 16: return "GPU requires reset";
    case 17: return "GPU access blocked by the operating system";
    case 18: return "Driver/library version mismatch";
    case 19: return "In use by another client";
    case 20: return "Insufficient Memory";
    case 21: return "No data";
    case 22: return "vGPU ECC not supported";
    case 23: return "Insufficient Resources";
    case 24: return "Invalid Frequency";
    case 25: return "Argument version mismatch";
    case 26: return "Requested functionality has been deprecated";
    case 27: return "System is not in ready state";
    case 999: return "Unknown Error";
    default: return "Unknown Error";
    }
}

API_CORE const char *nvmlErrorString(nvmlReturn_t result)
{
    call_t c_;
    sys_begin(&c_, FN_nvmlErrorString, 0, 0);
    call_end(&c_, NVML_SUCCESS);
    return error_text((int)result);
}

API_FULL nvmlReturn_t nvmlSystemGetNVMLVersion(char *version, unsigned int length)
{
    call_t c_;
    nvmlReturn_t rc = sys_begin(&c_, FN_nvmlSystemGetNVMLVersion, 0, 0); /* works before init */
    note_len(&c_, length);
    rc = put_str(version, length, NVML_VERSION_STR);
    return call_end(&c_, rc);
}

API_FULL nvmlReturn_t nvmlSystemGetDriverVersion(char *version, unsigned int length)
{
    call_t c_;
    nvmlReturn_t rc = sys_begin(&c_, FN_nvmlSystemGetDriverVersion, 1, 0);
    note_len(&c_, length);
    if (rc == NVML_SUCCESS)
        rc = put_str(version, length, DRIVER_VERSION_STR);
    return call_end(&c_, rc);
}

API_FULL nvmlReturn_t nvmlSystemGetCudaDriverVersion_v2(int *cudaDriverVersion)
{
    call_t c_;
    nvmlReturn_t rc = sys_begin(&c_, FN_nvmlSystemGetCudaDriverVersion_v2, 1, 0);
    if (rc == NVML_SUCCESS) {
        if (!cudaDriverVersion)
            rc = NVML_ERROR_INVALID_ARGUMENT;
        else
            *cudaDriverVersion = 12040;
    }
    return call_end(&c_, rc);
}

/* ------------------------------------------------------------------------ */
/* Enumeration                                                               */
/* ------------------------------------------------------------------------ */

API_CORE nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *deviceCount)
{
    call_t c_;
    nvmlReturn_t rc = sys_begin(&c_, FN_nvmlDeviceGetCount_v2, 1, 1);
    if (rc == NVML_SUCCESS) {
        if (!deviceCount)
            rc = NVML_ERROR_INVALID_ARGUMENT;
        else
            *deviceCount = (unsigned int)S.cfg.device_count; /* includes no-permission and lost devices */
    }
    return call_end(&c_, rc);
}

API_CORE nvmlReturn_t nvmlDeviceGetCount(unsigned int *deviceCount)
{
    call_t c_;
    nvmlReturn_t rc = sys_begin(&c_, FN_nvmlDeviceGetCount, 1, 1);
    if (rc == NVML_SUCCESS) {
        if (!deviceCount) {
            rc = NVML_ERROR_INVALID_ARGUMENT;
        } else {
            int n = S.cfg.device_count;
            if (S.cfg.noperm_device >= 0 && S.cfg.noperm_device < n)
                n--; /* v1 skips devices the caller may not open */
            *deviceCount = (unsigned int)n;
        }
    }
    return call_end(&c_, rc);
}

API_CORE nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device)
{
    call_t c_;
    nvmlReturn_t rc = idx_begin(&c_, FN_nvmlDeviceGetHandleByIndex_v2, index);
    if (rc == NVML_SUCCESS) {
        if (!device)
            rc = NVML_ERROR_INVALID_ARGUMENT;
        else if ((int)index == S.cfg.noperm_device)
            rc = NVML_ERROR_NO_PERMISSION;
        else {
            take_n(&c_);
            *device = hand_gpu((int)index);
        }
    }
    return call_end(&c_, rc);
}

/* Finish a lookup that found (dev, slot): attribute, guard, permissions, hand out. */
static nvmlReturn_t finish_lookup(call_t *c, int dev, int slot, nvmlDevice_t *out)
{
    attribute(c, dev);
    c->slot = slot;
    nvmlReturn_t rc = lost_guard(dev);
    if (rc != NVML_SUCCESS)
        return rc;
    if (slot < 0 && dev == S.cfg.noperm_device)
        return NVML_ERROR_NO_PERMISSION;
    take_n(c);
    *out = slot < 0 ? hand_gpu(dev) : hand_mig(dev, slot);
    return NVML_SUCCESS;
}

API_FULL nvmlReturn_t nvmlDeviceGetHandleByUUID(const char *uuid, nvmlDevice_t *device)
{
    call_t c_;
    nvmlReturn_t rc = sys_begin(&c_, FN_nvmlDeviceGetHandleByUUID, 1, 1);
    if (rc != NVML_SUCCESS)
        goto done_;
    if (!uuid || !device)
        FAIL(NVML_ERROR_INVALID_ARGUMENT);
    char buf[64];
    for (int i = 0; i < S.cfg.device_count; i++) {
        gpu_uuid(i, buf);
        if (strcmp(uuid, buf) == 0)
            FAIL(finish_lookup(&c_, i, -1, device));
    }
    int m = mig_dev();
    if (m >= 0) {
        for (int s = 0; s < MIG_MAX_COUNT; s++) {
            if (!mig_slot_populated(s))
                continue;
            mig_uuid(m, s, buf);
            if (strcmp(uuid, buf) == 0)
                FAIL(finish_lookup(&c_, m, s, device));
        }
    }
    rc = NVML_ERROR_NOT_FOUND;
    END();
}

API_FULL nvmlReturn_t nvmlDeviceGetHandleByPciBusId_v2(const char *pciBusId, nvmlDevice_t *device)
{
    call_t c_;
    nvmlReturn_t rc = sys_begin(&c_, FN_nvmlDeviceGetHandleByPciBusId_v2, 1, 1);
    if (rc != NVML_SUCCESS)
        goto done_;
    if (!pciBusId || !device)
        FAIL(NVML_ERROR_INVALID_ARGUMENT);
    unsigned int dom = 0, bus = 0, dv = 0, fn = 0;
    int used = -1;
    /* "domain:bus:device.function" (8- or 4-digit domain) or "bus:device.function" */
    if (!(sscanf(pciBusId, "%x:%x:%x.%x%n", &dom, &bus, &dv, &fn, &used) == 4 && used >= 0 && pciBusId[used] == '\0')) {
        dom = 0;
        used = -1;
        if (!(sscanf(pciBusId, "%x:%x.%x%n", &bus, &dv, &fn, &used) == 3 && used >= 0 && pciBusId[used] == '\0'))
            FAIL(NVML_ERROR_INVALID_ARGUMENT);
    }
    for (int i = 0; i < S.cfg.device_count; i++)
        if (dom == 0 && bus == 0x18u + (unsigned)i && dv == 0 && fn == 0)
            FAIL(finish_lookup(&c_, i, -1, device));
    rc = NVML_ERROR_NOT_FOUND;
    END();
}

API_FULL nvmlReturn_t nvmlDeviceGetIndex(nvmlDevice_t device, unsigned int *index)
{
    DEV_BEGIN(nvmlDeviceGetIndex, device);
    if (!index)
        FAIL(NVML_ERROR_INVALID_ARGUMENT);
    take_n(&c_);
    if (IS_MIG)
        FAIL(NVML_ERROR_NOT_SUPPORTED);
    *index = (unsigned int)DEV;
    END();
}

/* ------------------------------------------------------------------------ */
/* Identity                                                                  */
/* ------------------------------------------------------------------------ */

API_CORE nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char *name, unsigned int length)
{
    char buf[64];
    DEV_BEGIN_LEN(nvmlDeviceGetName, device, 1, length);
    if (!name)
        FAIL(NVML_ERROR_INVALID_ARGUMENT);
    take_n(&c_);
    rc = put_str(name, length, IS_MIG ? NAME_MIG : gpu_name(DEV, buf));
    END();
}

API_CORE nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char *uuid, unsigned int length)
{
    char buf[64];
    DEV_BEGIN_LEN(nvmlDeviceGetUUID, device, 1, length);
    if (!uuid)
        FAIL(NVML_ERROR_INVALID_ARGUMENT);
    take_n(&c_);
    if (IS_MIG)
        mig_uuid(DEV, c_.slot, buf);
    else
        gpu_uuid(DEV, buf);
    rc = put_str(uuid, length, buf);
    END();
}

API_FULL nvmlReturn_t nvmlDeviceGetSerial(nvmlDevice_t device, char *serial, unsigned int length)
{
    char buf[32];
    DEV_BEGIN_LEN(nvmlDeviceGetSerial, device, 1, length);
    if (!serial)
        FAIL(NVML_ERROR_INVALID_ARGUMENT);
    take_n(&c_);
    if (IS_MIG)
        FAIL(NVML_ERROR_NOT_SUPPORTED);
    snprintf(buf, sizeof(buf), "1650023000%03d", DEV);
    rc = put_str(serial, length, buf);
    END();
}

API_FULL nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t device, nvmlPciInfo_t *pci)
{
    DEV_BEGIN(nvmlDeviceGetPciInfo_v3, device);
    if (!pci)
        FAIL(NVML_ERROR_INVALID_ARGUMENT);
    take_n(&c_);
    if (IS_MIG)
        FAIL(NVML_ERROR_NOT_SUPPORTED);
    nvmlPciInfo_t p;
    memset(&p, 0, sizeof(p));
    p.domain = 0;
    p.bus = 0x18u + (unsigned)DEV;
    p.device = 0;
    p.pciDeviceId = 0x233010DEu;
    p.pciSubSystemId = 0x16C110DEu;
    snprintf(p.busIdLegacy, sizeof(p.busIdLegacy), "0000:%02X:00.0", p.bus);
    snprintf(p.busId, sizeof(p.busId), "00000000:%02X:00.0", p.bus);
    memcpy(pci, &p, sizeof(p));
    END();
}

API_FULL nvmlReturn_t nvmlDeviceGetCudaComputeCapability(nvmlDevice_t device, int *major, int *minor)
{
    DEV_BEGIN(nvmlDeviceGetCudaComputeCapability, device);
    if (!major || !minor)
        FAIL(NVML_ERROR_INVALID_ARGUMENT);
    take_n(&c_);
    if (IS_MIG)
        FAIL(NVML_ERROR_NOT_SUPPORTED);
    *major = 9;
    *minor = 0;
    END();
}

/* ------------------------------------------------------------------------ */
/* Utilisation and memory                                                    */
/* ------------------------------------------------------------------------ */

API_FULL nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t device, nvmlUtilization_t *utilization)
{
    DEV_BEGIN(nvmlDeviceGetUtilizationRates, device);
    if (!utilization)
        FAIL(NVML_ERROR_INVALID_ARGUMENT);
    unsigned long long n = take_n(&c_);
    if (IS_MIG || DEV == mig_dev())
        FAIL(NVML_ERROR_NOT_SUPPORTED); /* not supported on MIG-enabled GPUs nor on MIG handles */
    utilization->gpu = (unsigned int)((7ULL * n + 13ULL * (unsigned)DEV) % 101ULL);
    utilization->memory = (unsigned int)((3ULL * n + 5ULL * (unsigned)DEV) % 101ULL);
    END();
}

static nvmlReturn_t codec_util(call_t *c, unsigned int *utilization, unsigned int *samplingPeriodUs)
{
    if (!utilization || !samplingPeriodUs)
        return NVML_ERROR_INVALID_ARGUMENT;
    unsigned long long n = take_n(c);
    if (c->slot >= 0)
        return NVML_ERROR_NOT_SUPPORTED;
    *utilization = (unsigned int)(n % 5ULL);
    *samplingPeriodUs = 167000u;
    return NVML_SUCCESS;
}

API_FULL nvmlReturn_t nvmlDeviceGetEncoderUtilization(nvmlDevice_t device, unsigned int *utilization,
                                                      unsigned int *samplingPeriodUs)
{
    DEV_BEGIN(nvmlDeviceGetEncoderUtilization, device);
    rc = codec_util(&c_, utilization, samplingPeriodUs);
    END();
}

API_FULL nvmlReturn_t nvmlDeviceGetDecoderUtilization(nvmlDevice_t device, unsigned int *utilization,
                                                      unsigned int *samplingPeriodUs)
{
    DEV_BEGIN(nvmlDeviceGetDecoderUtilization, device);
    rc = codec_util(&c_, utilization, samplingPeriodUs);
    END();
}

#define MEM_TOTAL (80ULL * GIB)
#define MEM_RESERVED (512ULL * MIB)
#define MIG_MEM_TOTAL (10ULL * GIB)
#define MIG_MEM_RESERVED (64ULL * MIB)

static void mem_values(call_t *c, unsigned long long n, unsigned long long *total, unsigned long long *reserved,
                       unsigned long long *alloc)
{
    if (c->slot >= 0) {
        *total = MIG_MEM_TOTAL;
        *reserved = MIG_MEM_RESERVED;
        *alloc = (unsigned long long)(c->slot + 1) * 256ULL * MIB;
    } else {
        *total = MEM_TOTAL;
        *reserved = MEM_RESERVED;
        *alloc = (n % 10ULL) * GIB + (unsigned long long)c->dev * 512ULL * MIB;
    }
}

API_FULL nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t *memory)
{
    DEV_BEGIN(nvmlDeviceGetMemoryInfo, device);
    if (!memory)
        FAIL(NVML_ERROR_INVALID_ARGUMENT);
    unsigned long long n = take_n(&c_), total, reserved, alloc;
    mem_values(&c_, n, &total, &reserved, &alloc);
    memory->total = total;
    memory->used = reserved + alloc; /* v1: used includes reserved */
    memory->free = total - reserved - alloc;
    END();
}

API_NEW nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t device, nvmlMemory_v2_t *memory)
{
    DEV_BEGIN(nvmlDeviceGetMemoryInfo_v2, device);
    if (!memory)
        FAIL(NVML_ERROR_INVALID_ARGUMENT);
    if (memory->version != NVML_MEMORY_V2_VERSION)
        FAIL(NVML_ERROR_ARGUMENT_VERSION_MISMATCH);
    unsigned long long n = take_n(&c_), total, reserved, alloc;
    mem_values(&c_, n, &total, &reserved, &alloc);
    memory->total = total;
    memory->reserved = reserved;
    memory->used = alloc; /* v2: used excludes reserved */
    memory->free = total - reserved - alloc;
    END();
}

/* ------------------------------------------------------------------------ */
/* Thermal, power, energy, fans, P-state                                     */
/* ------------------------------------------------------------------------ */

API_FULL nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t device, nvmlTemperatureSensors_t sensorType,
                                               unsigned int *temp)
{
    DEV_BEGIN(nvmlDeviceGetTemperature, device);
    if (!temp || (unsigned int)sensorType != 0u)
        FAIL(NVML_ERROR_INVALID_ARGUMENT);
    unsigned long long n = take_n(&c_);
    if (IS_MIG)
        FAIL(NVML_ERROR_NOT_SUPPORTED);
    *temp = 30u + (unsigned)DEV + (unsigned int)(n % 50ULL);
    END();
}

API_NEW nvmlReturn_t nvmlDeviceGetTemperatureV(nvmlDevice_t device, nvmlTemperature_t *temperature)
{
    DEV_BEGIN(nvmlDeviceGetTemperatureV, device);
    if (!temperature)
        FAIL(NVML_ERROR_INVALID_ARGUMENT);
    if (temperature->version != NVML_TEMPERATURE_V1_VERSION)
        FAIL(NVML_ERROR_ARGUMENT_VERSION_MISMATCH);
    if ((unsigned int)temperature->sensorType != 0u)
        FAIL(NVML_ERROR_INVALID_ARGUMENT);
    unsigned long long n = take_n(&c_);
    if (IS_MIG)
        FAIL(NVML_ERROR_NOT_SUPPORTED);
    temperature->temperature = 30 + DEV + (int)(n % 50ULL);
    END();
}

static unsigned int power_mw(int dev, unsigned long long n)
{
    return 100000u + 1000u * (unsigned)dev + 1000u * (unsigned int)(n % 100ULL);
}

API_FULL nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t device, unsigned int *power)
{
    DEV_BEGIN(nvmlDeviceGetPowerUsage, device);
    if (!power)
        FAIL(NVML_ERROR_INVALID_ARGUMENT);
    unsigned long long n = take_n(&c_);
    if (IS_MIG)
        FAIL(NVML_ERROR_NOT_SUPPORTED);
    *power = power_mw(DEV, n);
    END();
}

API_FULL nvmlReturn_t nvmlDeviceGetEnforcedPowerLimit(nvmlDevice_t device, unsigned int *limit)
{
    DEV_BEGIN(nvmlDeviceGetEnforcedPowerLimit, device);
    if (!limit)
        FAIL(NVML_ERROR_INVALID_ARGUMENT);
    take_n(&c_);
    if (IS_MIG)
        FAIL(NVML_ERROR_NOT_SUPPORTED);
    *limit = 700000u;
    END();
}

API_FULL nvmlReturn_t nvmlDeviceGetPowerManagementLimit(nvmlDevice_t device, unsigned int *limit)
{
    DEV_BEGIN(nvmlDeviceGetPowerManagementLimit, device);
    if (!limit)
        FAIL(NVML_ERROR_INVALID_ARGUMENT);
    take_n(&c_);
    if (IS_MIG)
        FAIL(NVML_ERROR_NOT_SUPPORTED);
    *limit = 700000u;
    END();
}

static unsigned long long energy_mj(unsigned long long n) { return 5000000000ULL + 150000ULL * n; }

API_FULL nvmlReturn_t nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t device, unsigned long long *energy)
{
    DEV_BEGIN(nvmlDeviceGetTotalEnergyConsumption, device);
    if (!energy)
        FAIL(NVML_ERROR_INVALID_ARGUMENT);
    unsigned long long n = take_n(&c_);
    if (IS_MIG)
        FAIL(NVML_ERROR_NOT_SUPPORTED);
    *energy = energy_mj(n);
    END();
}

API_FULL nvmlReturn_t nvmlDeviceGetFanSpeed(nvmlDevice_t device, unsigned int *speed)
{
    DEV_BEGIN(nvmlDeviceGetFanSpeed, device);
    if (!speed)
        FAIL(NVML_ERROR_INVALID_ARGUMENT);
    unsigned long long n = take_n(&c_);
    if (IS_MIG || !fan_supported(DEV))
        FAIL(NVML_ERROR_NOT_SUPPORTED);
    *speed = 30u + (unsigned int)(n % 75ULL);
    END();
}

API_FULL nvmlReturn_t nvmlDeviceGetFanSpeed_v2(nvmlDevice_t device, unsigned int fan, unsigned int *speed)
{
    DEV_BEGIN(nvmlDeviceGetFanSpeed_v2, device);
    int supported = !IS_MIG && fan_supported(DEV);
    if (!speed || (supported && fan >= 1u)) /* fan >= NumFans (1) */
        FAIL(NVML_ERROR_INVALID_ARGUMENT);
    unsigned long long n = take_n(&c_);
    if (!supported)
        FAIL(NVML_ERROR_NOT_SUPPORTED);
    *speed = 30u + (unsigned int)(n % 75ULL);
    END();
}

API_FULL nvmlReturn_t nvmlDeviceGetNumFans(nvmlDevice_t device, unsigned int *numFans)
{
    DEV_BEGIN(nvmlDeviceGetNumFans, device);
    if (!numFans)
        FAIL(NVML_ERROR_INVALID_ARGUMENT);
    take_n(&c_);
    if (IS_MIG || !fan_supported(DEV)) {
        *numFans = 0;
        FAIL(NVML_ERROR_NOT_SUPPORTED);
    }
    *numFans = 1;
    END();
}

API_FULL nvmlReturn_t nvmlDeviceGetPerformanceState(nvmlDevice_t device, nvmlPstates_t *pState)
{
    DEV_BEGIN(nvmlDeviceGetPerformanceState, device);
    if (!pState)
        FAIL(NVML_ERROR_INVALID_ARGUMENT);
    unsigned long long n = take_n(&c_);
    if (IS_MIG)
        FAIL(NVML_ERROR_NOT_SUPPORTED);
    *pState = (n % 2ULL == 0) ? NVML_PSTATE_0 : NVML_PSTATE_8;
    END();
}

/* ------------------------------------------------------------------------ */
/* Clocks                                                                    */
/* ------------------------------------------------------------------------ */

API_FULL nvmlReturn_t nvmlDeviceGetClockInfo(nvmlDevice_t device, nvmlClockType_t type, unsigned int *clock)
{
    DEV_BEGIN(nvmlDeviceGetClockInfo, device);
    if (!clock || (unsigned int)type >= 4u)
        FAIL(NVML_ERROR_INVALID_ARGUMENT);
    unsigned long long n = take_n(&c_);
    if (IS_MIG)
        FAIL(NVML_ERROR_NOT_SUPPORTED);
    switch ((unsigned int)type) {
    case NVML_CLOCK_GRAPHICS:
    case NVML_CLOCK_SM: *clock = 1980u - 10u * (unsigned int)(n % 10ULL); break;
    case NVML_CLOCK_MEM: *clock = 2619u; break;
    default: *clock = 1755u; break;
    }
    END();
}

API_FULL nvmlReturn_t nvmlDeviceGetMaxClockInfo(nvmlDevice_t device, nvmlClockType_t type, unsigned int *clock)
{
    DEV_BEGIN(nvmlDeviceGetMaxClockInfo, device);
    if (!clock || (unsigned int)type >= 4u)
        FAIL(NVML_ERROR_INVALID_ARGUMENT);
    take_n(&c_);
    if (IS_MIG)
        FAIL(NVML_ERROR_NOT_SUPPORTED);
    *clock = ((unsigned int)type == NVML_CLOCK_MEM) ? 2619u : 1980u;
    END();
}

static nvmlReturn_t clock_reasons(call_t *c, unsigned long long *out)
{
    static const unsigned long long cycle[4] = {0x1ULL, 0x4ULL, 0x0ULL, 0x60ULL};
    if (!out)
        return NVML_ERROR_INVALID_ARGUMENT;
    unsigned long long n = take_n(c);
    if (c->slot >= 0)
        return NVML_ERROR_NOT_SUPPORTED;
    *out = cycle[n % 4ULL];
    return NVML_SUCCESS;
}

API_NEW nvmlReturn_t nvmlDeviceGetCurrentClocksEventReasons(nvmlDevice_t device, unsigned long long *clocksEventReasons)
{
    DEV_BEGIN(nvmlDeviceGetCurrentClocksEventReasons, device);
    rc = clock_reasons(&c_, clocksEventReasons);
    END();
}

API_FULL nvmlReturn_t nvmlDeviceGetCurrentClocksThrottleReasons(nvmlDevice_t device,
                                                                unsigned long long *clocksThrottleReasons)
{
    DEV_BEGIN(nvmlDeviceGetCurrentClocksThrottleReasons, device);
    rc = clock_reasons(&c_, clocksThrottleReasons);
    END();
}

API_NEW nvmlReturn_t nvmlDeviceGetSupportedClocksEventReasons(nvmlDevice_t device,
                                                              unsigned long long *supportedClocksEventReasons)
{
    DEV_BEGIN(nvmlDeviceGetSupportedClocksEventReasons, device);
    if (!supportedClocksEventReasons)
        FAIL(NVML_ERROR_INVALID_ARGUMENT);
    take_n(&c_);
    if (IS_MIG)
        FAIL(NVML_ERROR_NOT_SUPPORTED);
    *supportedClocksEventReasons = 0x1FFULL;
    END();
}

/* ------------------------------------------------------------------------ */
/* PCIe                                                                      */
/* ------------------------------------------------------------------------ */

API_FULL nvmlReturn_t nvmlDeviceGetPcieThroughput(nvmlDevice_t device, nvmlPcieUtilCounter_t counter,
                                                  unsigned int *value)
{
    DEV_BEGIN(nvmlDeviceGetPcieThroughput, device);
    if (!value || (unsigned int)counter >= 2u)
        FAIL(NVML_ERROR_INVALID_ARGUMENT);
    unsigned long long n = take_n(&c_);
    if (IS_MIG)
        FAIL(NVML_ERROR_NOT_SUPPORTED);
    unsigned int base = ((unsigned int)counter == NVML_PCIE_UTIL_TX_BYTES) ? 1000u : 2000u;
    *value = base * ((unsigned)DEV + 1u) + (unsigned int)n;
    END();
}

API_FULL nvmlReturn_t nvmlDeviceGetPcieReplayCounter(nvmlDevice_t device, unsigned int *value)
{
    DEV_BEGIN(nvmlDeviceGetPcieReplayCounter, device);
    if (!value)
        FAIL(NVML_ERROR_INVALID_ARGUMENT);
    take_n(&c_);
    if (IS_MIG)
        FAIL(NVML_ERROR_NOT_SUPPORTED);
    *value = (unsigned int)DEV;
    END();
}

API_FULL nvmlReturn_t nvmlDeviceGetCurrPcieLinkGeneration(nvmlDevice_t device, unsigned int *currLinkGen)
{
    DEV_BEGIN(nvmlDeviceGetCurrPcieLinkGeneration, device);
    if (!currLinkGen)
        FAIL(NVML_ERROR_INVALID_ARGUMENT);
    take_n(&c_);
    if (IS_MIG)
        FAIL(NVML_ERROR_NOT_SUPPORTED);
    *currLinkGen = 5u;
    END();
}

API_FULL nvmlReturn_t nvmlDeviceGetCurrPcieLinkWidth(nvmlDevice_t device, unsigned int *currLinkWidth)
{
    DEV_BEGIN(nvmlDeviceGetCurrPcieLinkWidth, device);
    if (!currLinkWidth)
        FAIL(NVML_ERROR_INVALID_ARGUMENT);
    take_n(&c_);
    if (IS_MIG)
        FAIL(NVML_ERROR_NOT_SUPPORTED);
    *currLinkWidth = 16u;
    END();
}

/* ------------------------------------------------------------------------ */
/* Reliability                                                               */
/* ------------------------------------------------------------------------ */

static unsigned long long ecc_value(unsigned int errorType, unsigned int counterType, unsigned long long n)
{
    if (counterType == NVML_VOLATILE_ECC)
        return errorType == NVML_MEMORY_ERROR_TYPE_CORRECTED ? n : 0ULL;
    return errorType == NVML_MEMORY_ERROR_TYPE_CORRECTED ? 0x100000000ULL + n : 2ULL;
}

API_FULL nvmlReturn_t nvmlDeviceGetTotalEccErrors(nvmlDevice_t device, nvmlMemoryErrorType_t errorType,
                                                  nvmlEccCounterType_t counterType, unsigned long long *eccCounts)
{
    DEV_BEGIN(nvmlDeviceGetTotalEccErrors, device);
    if (!eccCounts || (unsigned int)errorType >= 2u || (unsigned int)counterType >= 2u)
        FAIL(NVML_ERROR_INVALID_ARGUMENT);
    unsigned long long n = take_n(&c_);
    if (IS_MIG || !ecc_supported(DEV))
        FAIL(NVML_ERROR_NOT_SUPPORTED);
    *eccCounts = ecc_value((unsigned int)errorType, (unsigned int)counterType, n);
    END();
}

API_FULL nvmlReturn_t nvmlDeviceGetMemoryErrorCounter(nvmlDevice_t device, nvmlMemoryErrorType_t errorType,
                                                      nvmlEccCounterType_t counterType,
                                                      nvmlMemoryLocation_t locationType, unsigned long long *count)
{
    DEV_BEGIN(nvmlDeviceGetMemoryErrorCounter, device);
    if (!count || (unsigned int)errorType >= 2u || (unsigned int)counterType >= 2u || (unsigned int)locationType >= 8u)
        FAIL(NVML_ERROR_INVALID_ARGUMENT);
    unsigned long long n = take_n(&c_);
    if (IS_MIG || !ecc_supported(DEV) || (unsigned int)locationType != NVML_MEMORY_LOCATION_DRAM)
        FAIL(NVML_ERROR_NOT_SUPPORTED);
    *count = ecc_value((unsigned int)errorType, (unsigned int)counterType, n);
    END();
}

static nvmlReturn_t retired_pages(call_t *c, unsigned int cause, unsigned int *pageCount,
                                  unsigned long long *addresses, unsigned long long *timestamps, int v2)
{
    static const unsigned long long addr[2] = {0x1000ULL, 0x2000ULL};
    static const unsigned long long ts[2] = {1700000000ULL, 1700000001ULL};
    if (!pageCount || cause >= 2u)
        return NVML_ERROR_INVALID_ARGUMENT;
    int supported = c->slot < 0 && ecc_supported(c->dev);
    unsigned int needed = (cause == NVML_PAGE_RETIREMENT_CAUSE_DOUBLE_BIT_ECC_ERROR) ? 2u : 0u;
    if (supported && needed > 0 && *pageCount >= needed && (!addresses || (v2 && !timestamps)))
        return NVML_ERROR_INVALID_ARGUMENT; /* room claimed but no buffer */
    take_n(c);
    if (!supported)
        return NVML_ERROR_NOT_SUPPORTED;
    if (*pageCount < needed) {
        *pageCount = needed;
        return NVML_ERROR_INSUFFICIENT_SIZE;
    }
    for (unsigned int j = 0; j < needed; j++) {
        addresses[j] = addr[j];
        if (v2)
            timestamps[j] = ts[j];
    }
    *pageCount = needed;
    return NVML_SUCCESS;
}

API_FULL nvmlReturn_t nvmlDeviceGetRetiredPages(nvmlDevice_t device, nvmlPageRetirementCause_t cause,
                                                unsigned int *pageCount, unsigned long long *addresses)
{
    DEV_BEGIN_LEN(nvmlDeviceGetRetiredPages, device, pageCount != NULL, pageCount ? *pageCount : 0u);
    rc = retired_pages(&c_, (unsigned int)cause, pageCount, addresses, NULL, 0);
    END();
}

API_FULL nvmlReturn_t nvmlDeviceGetRetiredPages_v2(nvmlDevice_t device, nvmlPageRetirementCause_t cause,
                                                   unsigned int *pageCount, unsigned long long *addresses,
                                                   unsigned long long *timestamps)
{
    DEV_BEGIN_LEN(nvmlDeviceGetRetiredPages_v2, device, pageCount != NULL, pageCount ? *pageCount : 0u);
    rc = retired_pages(&c_, (unsigned int)cause, pageCount, addresses, timestamps, 1);
    END();
}

API_FULL nvmlReturn_t nvmlDeviceGetRetiredPagesPendingStatus(nvmlDevice_t device, nvmlEnableState_t *isPending)
{
    DEV_BEGIN(nvmlDeviceGetRetiredPagesPendingStatus, device);
    if (!isPending)
        FAIL(NVML_ERROR_INVALID_ARGUMENT);
    take_n(&c_);
    if (IS_MIG)
        FAIL(NVML_ERROR_NOT_SUPPORTED);
    *isPending = NVML_FEATURE_DISABLED;
    END();
}

API_FULL nvmlReturn_t nvmlDeviceGetRemappedRows(nvmlDevice_t device, unsigned int *corrRows, unsigned int *uncRows,
                                                unsigned int *isPending, unsigned int *failureOccurred)
{
    DEV_BEGIN(nvmlDeviceGetRemappedRows, device);
    if (!corrRows || !uncRows || !isPending || !failureOccurred)
        FAIL(NVML_ERROR_INVALID_ARGUMENT);
    take_n(&c_);
    if (IS_MIG || DEV == mig_dev())
        FAIL(NVML_ERROR_NOT_SUPPORTED); /* not supported with MIG enabled */
    *corrRows = 1u;
    *uncRows = 0u;
    *isPending = 0u;
    *failureOccurred = 0u;
    END();
}

/* ------------------------------------------------------------------------ */
/* Processes                                                                 */
/* ------------------------------------------------------------------------ */

static nvmlReturn_t processes(call_t *c, unsigned int *infoCount, void *infos, size_t stride, int graphics)
{
    nvmlProcessInfo_t e[4];
    unsigned int needed = 0;
    if (!infoCount)
        return NVML_ERROR_INVALID_ARGUMENT;
    unsigned long long n = peek_n(c);
    if (graphics) {
        needed = 0;
    } else if (c->slot >= 0) {
        needed = 1;
        e[0].pid = 2000u + (unsigned)c->slot;
        e[0].usedGpuMemory = (unsigned long long)(c->slot + 1) * 256ULL * MIB;
        e[0].gpuInstanceId = mig_gi(c->slot);
        e[0].computeInstanceId = mig_ci(c->slot);
    } else if (c->dev == 0) {
        needed = 3u + (unsigned int)(n % 2ULL);
        for (unsigned int j = 0; j < needed; j++) {
            e[j].pid = 1000u + j;
            e[j].usedGpuMemory = (j == 2) ? 0xFFFFFFFFFFFFFFFFULL : (unsigned long long)(j + 1) * GIB;
            e[j].gpuInstanceId = NO_INSTANCE;
            e[j].computeInstanceId = NO_INSTANCE;
        }
    }
    if (needed > 0 && *infoCount >= needed && !infos)
        return NVML_ERROR_INVALID_ARGUMENT; /* room claimed but no buffer: n does not advance */
    take_n(c);
    if (*infoCount < needed) {
        *infoCount = needed;
        return NVML_ERROR_INSUFFICIENT_SIZE;
    }
    if (needed == 0) {
        *infoCount = 0;
        return NVML_SUCCESS;
    }
    unsigned char *out = (unsigned char *)infos;
    for (unsigned int j = 0; j < needed; j++) {
        if (stride == sizeof(nvmlProcessInfo_v1_t)) {
            nvmlProcessInfo_v1_t v1;
            memset(&v1, 0, sizeof(v1));
            v1.pid = e[j].pid;
            v1.usedGpuMemory = e[j].usedGpuMemory;
            memcpy(out + (size_t)j * stride, &v1, sizeof(v1));
        } else {
            nvmlProcessInfo_t v2;
            memset(&v2, 0, sizeof(v2));
            v2.pid = e[j].pid;
            v2.usedGpuMemory = e[j].usedGpuMemory;
            v2.gpuInstanceId = e[j].gpuInstanceId;
            v2.computeInstanceId = e[j].computeInstanceId;
            memcpy(out + (size_t)j * stride, &v2, sizeof(v2));
        }
    }
    *infoCount = needed;
    return NVML_SUCCESS;
}

API_FULL nvmlReturn_t nvmlDeviceGetComputeRunningProcesses(nvmlDevice_t device, unsigned int *infoCount,
                                                           nvmlProcessInfo_v1_t *infos)
{
    DEV_BEGIN_LEN(nvmlDeviceGetComputeRunningProcesses, device, infoCount != NULL, infoCount ? *infoCount : 0u);
    rc = processes(&c_, infoCount, infos, sizeof(nvmlProcessInfo_v1_t), 0);
    END();
}

API_FULL nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v2(nvmlDevice_t device, unsigned int *infoCount,
                                                              nvmlProcessInfo_t *infos)
{
    DEV_BEGIN_LEN(nvmlDeviceGetComputeRunningProcesses_v2, device, infoCount != NULL, infoCount ? *infoCount : 0u);
    rc = processes(&c_, infoCount, infos, sizeof(nvmlProcessInfo_t), 0);
    END();
}

API_NEW nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t device, unsigned int *infoCount,
                                                             nvmlProcessInfo_t *infos)
{
    DEV_BEGIN_LEN(nvmlDeviceGetComputeRunningProcesses_v3, device, infoCount != NULL, infoCount ? *infoCount : 0u);
    rc = processes(&c_, infoCount, infos, sizeof(nvmlProcessInfo_t), 0);
    END();
}

API_NEW nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses_v3(nvmlDevice_t device, unsigned int *infoCount,
                                                              nvmlProcessInfo_t *infos)
{
    DEV_BEGIN_LEN(nvmlDeviceGetGraphicsRunningProcesses_v3, device, infoCount != NULL, infoCount ? *infoCount : 0u);
    rc = processes(&c_, infoCount, infos, sizeof(nvmlProcessInfo_t), 1);
    END();
}

/* ------------------------------------------------------------------------ */
/* Field values                                                              */
/* ------------------------------------------------------------------------ */

static void fv_uint(nvmlFieldValue_t *v, unsigned int x)
{
    v->valueType = NVML_VALUE_TYPE_UNSIGNED_INT;
    v->value.ullVal = 0;
    v->value.uiVal = x;
    v->nvmlReturn = NVML_SUCCESS;
}

static void fv_ull(nvmlFieldValue_t *v, unsigned long long x)
{
    v->valueType = NVML_VALUE_TYPE_UNSIGNED_LONG_LONG;
    v->value.ullVal = x;
    v->nvmlReturn = NVML_SUCCESS;
}

static void fv_sll(nvmlFieldValue_t *v, long long x)
{
    v->valueType = NVML_VALUE_TYPE_SIGNED_LONG_LONG;
    v->value.sllVal = x;
    v->nvmlReturn = NVML_SUCCESS;
}

static void fv_double(nvmlFieldValue_t *v, double x)
{
    v->valueType = NVML_VALUE_TYPE_DOUBLE;
    v->value.dVal = x;
    v->nvmlReturn = NVML_SUCCESS;
}

API_FULL nvmlReturn_t nvmlDeviceGetFieldValues(nvmlDevice_t device, int valuesCount, nvmlFieldValue_t *values)
{
    DEV_BEGIN_LEN(nvmlDeviceGetFieldValues, device, 1, valuesCount < 0 ? 0u : (unsigned int)valuesCount);
    if (valuesCount <= 0 || !values)
        FAIL(NVML_ERROR_INVALID_ARGUMENT);
    unsigned long long n = take_n(&c_); /* n_fv */
    long long ts = 1767225600000000LL + 1000000LL * (long long)n;
    int dev = DEV;
    unsigned int links = nvlink_count(dev);
    for (int k = 0; k < valuesCount; k++) {
        nvmlFieldValue_t *v = &values[k];
        v->timestamp = ts;
        v->latencyUsec = 5;
        if (IS_MIG) {
            v->nvmlReturn = NVML_ERROR_NOT_SUPPORTED;
            continue;
        }
        unsigned int scope = v->scopeId;
        switch (v->fieldId) {
        case 82: /* NVML_FI_DEV_MEMORY_TEMP */
            fv_uint(v, 45u + (unsigned)dev);
            break;
        case 83: /* NVML_FI_DEV_TOTAL_ENERGY_CONSUMPTION */
            fv_ull(v, energy_mj(n));
            break;
        case 91: /* NVML_FI_DEV_NVLINK_LINK_COUNT */
            fv_uint(v, links);
            break;
        case 138: case 139: case 140: case 141: /* NVLink throughput, KiB, per link / sum */
            if (scope == 0xFFFFFFFFu)
                fv_ull(v, 1024ULL * n * ((unsigned long long)links * (links + 1ULL) / 2ULL));
            else if (scope < links)
                fv_ull(v, ((unsigned long long)scope + 1ULL) * 1024ULL * n);
            else
                v->nvmlReturn = NVML_ERROR_INVALID_ARGUMENT;
            break;
        case 142: case 143: case 144: case 145: /* remapped rows: cor, unc, pending, failure */
            if (dev == mig_dev())
                v->nvmlReturn = NVML_ERROR_NOT_SUPPORTED;
            else
                fv_uint(v, v->fieldId == 142 ? 1u : 0u);
            break;
        case 185: case 186: /* power average / instant, scope = NVML_POWER_SCOPE_* */
            if (scope == 0)
                fv_uint(v, power_mw(dev, n));
            else if (scope == 1)
                fv_uint(v, power_mw(dev, n) + 50000u);
            else if (scope == 2 && v->fieldId == 186)
                fv_double(v, 12.5);
            else
                v->nvmlReturn = NVML_ERROR_NOT_SUPPORTED;
            break;
        case 230: /* NVML_FI_DEV_GET_GPU_RECOVERY_ACTION */
            fv_sll(v, -1);
            break;
        default:
            v->nvmlReturn = NVML_ERROR_NOT_SUPPORTED;
            break;
        }
    }
    END(); /* SUCCESS even when some entries failed */
}

/* ------------------------------------------------------------------------ */
/* MIG                                                                       */
/* ------------------------------------------------------------------------ */

API_FULL nvmlReturn_t nvmlDeviceGetMigMode(nvmlDevice_t device, unsigned int *currentMode, unsigned int *pendingMode)
{
    DEV_BEGIN(nvmlDeviceGetMigMode, device);
    if (!currentMode || !pendingMode)
        FAIL(NVML_ERROR_INVALID_ARGUMENT);
    take_n(&c_);
    if (IS_MIG)
        FAIL(NVML_ERROR_NOT_SUPPORTED);
    if (DEV == mig_dev()) {
        *currentMode = 1u;
        *pendingMode = 1u;
    } else if (DEV >= 2) {
        FAIL(NVML_ERROR_NOT_SUPPORTED); /* "pre-Ampere" */
    } else {
        *currentMode = 0u;
        *pendingMode = 0u;
    }
    END();
}

API_FULL nvmlReturn_t nvmlDeviceGetMaxMigDeviceCount(nvmlDevice_t device, unsigned int *count)
{
    DEV_BEGIN(nvmlDeviceGetMaxMigDeviceCount, device);
    if (!count)
        FAIL(NVML_ERROR_INVALID_ARGUMENT);
    take_n(&c_);
    if (IS_MIG)
        FAIL(NVML_ERROR_NOT_SUPPORTED);
    if (DEV == mig_dev())
        *count = MIG_MAX_COUNT;
    else if (DEV >= 2)
        FAIL(NVML_ERROR_NOT_SUPPORTED);
    else
        *count = 0u;
    END();
}

API_FULL nvmlReturn_t nvmlDeviceGetMigDeviceHandleByIndex(nvmlDevice_t device, unsigned int index,
                                                          nvmlDevice_t *migDevice)
{
    DEV_BEGIN(nvmlDeviceGetMigDeviceHandleByIndex, device);
    if (!migDevice || index >= MIG_MAX_COUNT)
        FAIL(NVML_ERROR_INVALID_ARGUMENT);
    take_n(&c_);
    if (IS_MIG)
        FAIL(NVML_ERROR_NOT_SUPPORTED);
    if (DEV != mig_dev()) {
        if (DEV >= 2)
            FAIL(NVML_ERROR_NOT_SUPPORTED);
        FAIL(NVML_ERROR_NOT_FOUND); /* MIG off: no instances */
    }
    if (!mig_slot_populated((int)index))
        FAIL(NVML_ERROR_NOT_FOUND);
    *migDevice = hand_mig(DEV, (int)index);
    END();
}

API_FULL nvmlReturn_t nvmlDeviceIsMigDeviceHandle(nvmlDevice_t device, unsigned int *isMigDevice)
{
    DEV_BEGIN(nvmlDeviceIsMigDeviceHandle, device);
    if (!isMigDevice)
        FAIL(NVML_ERROR_INVALID_ARGUMENT);
    take_n(&c_);
    *isMigDevice = IS_MIG ? 1u : 0u;
    END();
}

API_FULL nvmlReturn_t nvmlDeviceGetDeviceHandleFromMigDeviceHandle(nvmlDevice_t migDevice, nvmlDevice_t *device)
{
    DEV_BEGIN(nvmlDeviceGetDeviceHandleFromMigDeviceHandle, migDevice);
    if (!device || !IS_MIG)
        FAIL(NVML_ERROR_INVALID_ARGUMENT);
    take_n(&c_);
    *device = hand_gpu(DEV);
    END();
}

API_FULL nvmlReturn_t nvmlDeviceGetGpuInstanceId(nvmlDevice_t device, unsigned int *id)
{
    DEV_BEGIN(nvmlDeviceGetGpuInstanceId, device);
    if (!id)
        FAIL(NVML_ERROR_INVALID_ARGUMENT);
    take_n(&c_);
    if (!IS_MIG)
        FAIL(NVML_ERROR_NOT_SUPPORTED);
    *id = mig_gi(c_.slot);
    END();
}

API_FULL nvmlReturn_t nvmlDeviceGetComputeInstanceId(nvmlDevice_t device, unsigned int *id)
{
    DEV_BEGIN(nvmlDeviceGetComputeInstanceId, device);
    if (!id)
        FAIL(NVML_ERROR_INVALID_ARGUMENT);
    take_n(&c_);
    if (!IS_MIG)
        FAIL(NVML_ERROR_NOT_SUPPORTED);
    *id = mig_ci(c_.slot);
    END();
}

/* ------------------------------------------------------------------------ */
/* Events                                                                    */
/* ------------------------------------------------------------------------ */

/* A live set of this library: found in the registry (never dereferences unknown pointers). */
static struct nvmlEventSet_st *set_find(nvmlEventSet_t set)
{
    for (struct nvmlEventSet_st *s = S.sets; s; s = s->next)
        if (s == set)
            return s->magic == MAGIC_SET ? s : NULL;
    return NULL;
}

API_FULL nvmlReturn_t nvmlEventSetCreate(nvmlEventSet_t *set)
{
    call_t c_;
    nvmlReturn_t rc = sys_begin(&c_, FN_nvmlEventSetCreate, 1, 0);
    if (rc != NVML_SUCCESS)
        goto done_;
    if (!set)
        FAIL(NVML_ERROR_INVALID_ARGUMENT);
    struct nvmlEventSet_st *s = calloc(1, sizeof(*s));
    if (!s)
        FAIL(NVML_ERROR_MEMORY);
    s->magic = MAGIC_SET;
    s->gen = S.gen;
    s->next = S.sets;
    S.sets = s;
    *set = s;
    END();
}

API_FULL nvmlReturn_t nvmlDeviceGetSupportedEventTypes(nvmlDevice_t device, unsigned long long *eventTypes)
{
    DEV_BEGIN(nvmlDeviceGetSupportedEventTypes, device);
    if (!eventTypes)
        FAIL(NVML_ERROR_INVALID_ARGUMENT);
    take_n(&c_);
    if (IS_MIG)
        FAIL(NVML_ERROR_NOT_SUPPORTED);
    *eventTypes = SUPPORTED_EVENT_TYPES;
    END();
}

API_FULL nvmlReturn_t nvmlDeviceRegisterEvents(nvmlDevice_t device, unsigned long long eventTypes, nvmlEventSet_t set)
{
    DEV_BEGIN(nvmlDeviceRegisterEvents, device);
    struct nvmlEventSet_st *s = set_find(set);
    if (!s || s->gen != S.gen)
        FAIL(NVML_ERROR_INVALID_ARGUMENT);
    take_n(&c_);
    if (IS_MIG) /* register on the parent; per-MIG-handle registration is not supported */
        FAIL(NVML_ERROR_NOT_SUPPORTED);
    if (eventTypes & ~SUPPORTED_EVENT_TYPES)
        FAIL(NVML_ERROR_NOT_SUPPORTED); /* nothing registered */
    s->mask[DEV] |= eventTypes;
    END();
}

static int pop_event_locked(struct nvmlEventSet_st *s, fake_event_t *out)
{
    for (int k = 0; k < S.evq_len; k++) {
        int d = S.evq[k].dev;
        if (d < S.cfg.device_count && (s->mask[d] & EVENT_TYPE_XID)) {
            *out = S.evq[k];
            memmove(&S.evq[k], &S.evq[k + 1], (size_t)(S.evq_len - k - 1) * sizeof(S.evq[0]));
            S.evq_len--;
            return 1;
        }
    }
    return 0;
}

static int take_lost_locked(struct nvmlEventSet_st *s)
{
    for (int d = 0; d < S.cfg.device_count; d++) {
        if (s->mask[d] != 0 && S.lost_tripped[d] && !(s->lost_reported & (1u << d))) {
            s->lost_reported |= 1u << d;
            return 1;
        }
    }
    return 0;
}

static nvmlReturn_t event_wait(int fn, nvmlEventSet_t set, void *data, unsigned int timeoutms, int v2)
{
    call_t c_;
    nvmlReturn_t rc = sys_begin(&c_, fn, 1, 0);
    if (rc != NVML_SUCCESS)
        goto done_;
    struct nvmlEventSet_st *s = set_find(set);
    if (!s || s->gen != S.gen || !data)
        FAIL(NVML_ERROR_INVALID_ARGUMENT);

    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += (time_t)(timeoutms / 1000u);
    deadline.tv_nsec += (long)(timeoutms % 1000u) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec += 1;
        deadline.tv_nsec -= 1000000000L;
    }

    s->waiters++;
    for (;;) {
        fake_event_t ev;
        if (S.refcount == 0) { /* final shutdown or reset while waiting */
            rc = NVML_ERROR_UNINITIALIZED;
            break;
        }
        if (s->dead || s->magic != MAGIC_SET || s->gen != S.gen) {
            rc = NVML_ERROR_INVALID_ARGUMENT;
            break;
        }
        if (pop_event_locked(s, &ev)) {
            unsigned int gi = NO_INSTANCE, ci = NO_INSTANCE;
            if (ev.slot >= 0 && ev.dev == mig_dev() && mig_slot_populated(ev.slot)) {
                gi = mig_gi(ev.slot);
                ci = mig_ci(ev.slot);
            }
            if (v2) {
                nvmlEventData_t d;
                d.device = hand_gpu(ev.dev);
                d.eventType = EVENT_TYPE_XID;
                d.eventData = ev.xid;
                d.gpuInstanceId = gi;
                d.computeInstanceId = ci;
                memcpy(data, &d, sizeof(d));
            } else {
                fake_event_data_v1_t d;
                d.device = hand_gpu(ev.dev);
                d.eventType = EVENT_TYPE_XID;
                d.eventData = ev.xid;
                memcpy(data, &d, sizeof(d)); /* 24 bytes only */
            }
            rc = NVML_SUCCESS;
            break;
        }
        if (take_lost_locked(s)) {
            rc = NVML_ERROR_GPU_IS_LOST;
            break;
        }
        if (timeoutms == 0) {
            rc = NVML_ERROR_TIMEOUT;
            break;
        }
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec > deadline.tv_sec || (now.tv_sec == deadline.tv_sec && now.tv_nsec >= deadline.tv_nsec)) {
            rc = NVML_ERROR_TIMEOUT;
            break;
        }
        pthread_cond_timedwait(&g_cond, &g_mu, &deadline);
    }
    s->waiters--;
    if (s->dead && s->waiters == 0)
        free(s);
    END();
}

API_NEW nvmlReturn_t nvmlEventSetWait_v2(nvmlEventSet_t set, nvmlEventData_t *data, unsigned int timeoutms)
{
    return event_wait(FN_nvmlEventSetWait_v2, set, data, timeoutms, 1);
}

/* v1: same behaviour, but writes the 24-byte event record without gpuInstanceId/computeInstanceId. */
API_FULL nvmlReturn_t nvmlEventSetWait(nvmlEventSet_t set, nvmlEventData_t *data, unsigned int timeoutms)
{
    return event_wait(FN_nvmlEventSetWait, set, data, timeoutms, 0);
}

API_FULL nvmlReturn_t nvmlEventSetFree(nvmlEventSet_t set)
{
    call_t c_;
    nvmlReturn_t rc = sys_begin(&c_, FN_nvmlEventSetFree, 1, 0);
    if (rc != NVML_SUCCESS)
        goto done_;
    struct nvmlEventSet_st *s = set_find(set);
    if (!s)
        FAIL(NVML_ERROR_INVALID_ARGUMENT); /* double free, foreign or garbage pointer */
    struct nvmlEventSet_st **pp = &S.sets;
    while (*pp != s)
        pp = &(*pp)->next;
    *pp = s->next;
    s->next = NULL;
    s->magic = 0;
    if (s->waiters > 0) {
        s->dead = 1; /* the last waiter frees it */
        pthread_cond_broadcast(&g_cond);
    } else {
        free(s);
    }
    END();
}
