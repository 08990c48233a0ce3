/* The tiny C API a program run by tf_expander_pruning.deployment.mcu.run_c_program can use.
 *
 *   tep_cycles_start()        reset the SysTick-based counter
 *   tep_instructions_since()  instructions retired since the last start (QEMU -icount shift=0:
 *                             one instruction per virtual ns; resolution one SysTick tick,
 *                             TEP_INSTRUCTIONS_PER_TICK instructions)
 *   printf/puts/...           go to the host's stdout through Arm semihosting
 * Returning from main() ends QEMU; a non-zero return value becomes a failed run.
 */
#ifndef TEP_MCU_H
#define TEP_MCU_H
#include <stdint.h>
#include <stdio.h>
#ifdef __cplusplus
extern "C" {
#endif
void tep_cycles_start(void);
uint64_t tep_instructions_since(void);
/* Raw SysTick ticks since tep_cycles_start() (for calibration). */
uint64_t tep_ticks_since(void);
#ifdef __cplusplus
}
#endif
#endif
