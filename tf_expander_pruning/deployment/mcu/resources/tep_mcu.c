/* Startup code, SysTick instruction counter and semihosting exit for the emulated Cortex-M. */
#include <stdint.h>
#include "tep_mcu.h"

#ifndef TEP_INSTR_PER_TICK_NUM
#error "TEP_INSTR_PER_TICK_NUM/DEN are set by the build (instructions per SysTick tick)"
#endif

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _estack;
extern int main(void);
extern void __libc_init_array(void);
extern void initialise_monitor_handles(void);

#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define SYST_RELOAD 0xFFFFFFu

/* SysTick counts down 24 bits; the interrupt counts wraps so long runs do not overflow. */
static volatile uint32_t tep_wraps;

void tep_systick_handler(void) { tep_wraps++; }

void tep_cycles_start(void) {
    SYST_CSR = 0;
    SYST_RVR = SYST_RELOAD;
    SYST_CVR = 0;           /* any write clears it; the next tick loads RVR */
    SYST_CSR = 7;           /* enable, interrupt on wrap, core clock */
    while (SYST_CVR == 0) {}  /* wait (< 1 tick) for that load: counting starts at RVR */
    tep_wraps = 0;
}

/* The counter runs RVR, RVR-1, ..., 0 (interrupt: one wrap), RVR, ...  A read of 0 is waited
 * out (< 1 tick) so a wrap whose interrupt is still pending is never half counted. */
uint64_t tep_ticks_since(void) {
    uint32_t wraps, value;
    do {
        wraps = tep_wraps;
        value = SYST_CVR;
    } while (value == 0 || wraps != tep_wraps);
    return (uint64_t)wraps * (SYST_RELOAD + 1u) + (SYST_RELOAD - value);
}

uint64_t tep_instructions_since(void) {
    return tep_ticks_since() * TEP_INSTR_PER_TICK_NUM / TEP_INSTR_PER_TICK_DEN;
}

/* Semihosting SYS_EXIT (0x18); reason 0x20026 = normal exit, 0x20023 = run-time error. */
static void tep_semihost_exit(int failed) {
    register uint32_t r0 __asm__("r0") = 0x18u;
    register uint32_t r1 __asm__("r1") = failed ? 0x20023u : 0x20026u;
    __asm__ volatile("bkpt 0xAB" : : "r"(r0), "r"(r1) : "memory");
    for (;;) {}
}

static void tep_semihost_write0(const char *text) {
    register uint32_t r0 __asm__("r0") = 0x04u;
    register const char *r1 __asm__("r1") = text;
    __asm__ volatile("bkpt 0xAB" : : "r"(r0), "r"(r1) : "memory");
}

void tep_fault_handler(void) {
    tep_semihost_write0("\nTEP_FAULT: the program took a fault exception\n");
    tep_semihost_exit(1);
}

/* newlib's __libc_init_array calls these; -nostartfiles drops crti.o, which would define them. */
__attribute__((weak)) void _init(void) {}
__attribute__((weak)) void _fini(void) {}
/* C++ static objects register their destructors against this (normally from crtbegin.o). */
__attribute__((weak)) void *__dso_handle = &__dso_handle;

void tep_reset_handler(void) {
    uint32_t *src = &_sidata, *dst = &_sdata;
    while (dst < &_edata) *dst++ = *src++;
    for (dst = &_sbss; dst < &_ebss; ) *dst++ = 0;
#if defined(__ARM_FP)
    /* CPACR: full access to CP10/CP11 (the FPU) before any float instruction runs. */
    *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20;
    __asm__ volatile("dsb\n isb" ::: "memory");
#endif
    initialise_monitor_handles();
    __libc_init_array();
    int rc = main();
    fflush(stdout);
    tep_semihost_exit(rc != 0);
}

typedef void (*tep_vector)(void);
/* Initial stack pointer, then the handlers: reset, NMI, HardFault, 4 faults/reserved, SVC, ...,
 * SysTick at index 15. */
__attribute__((section(".isr_vector"), used))
const tep_vector tep_vectors[16] = {
    (tep_vector)(uintptr_t)&_estack, tep_reset_handler, tep_fault_handler, tep_fault_handler,
    tep_fault_handler, tep_fault_handler, tep_fault_handler, 0, 0, 0, 0,
    tep_fault_handler, tep_fault_handler, 0, tep_fault_handler, tep_systick_handler,
};
