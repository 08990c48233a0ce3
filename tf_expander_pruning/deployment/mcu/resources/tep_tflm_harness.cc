// Runs a TFLite flatbuffer with TFLM's MicroInterpreter on the emulated core and prints every
// output tensor's raw bytes in hex (exact for int8 and float) plus the instructions per sample.
// The model, the input bytes and the run's shape come from the generated tep_tflm_model.c (plain
// C, cheap to compile); this file depends only on the op list (tep_tflm_ops.h), so its object is
// compiled once per op set and cached next to the TFLM library.
#include <math.h>
#include <string.h>

#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"
#include "tensorflow/lite/schema/schema_generated.h"
#include "tep_mcu.h"
#include "tep_tflm_ops.h"

extern "C" {
struct TepState {
  int output;
  int input;
};
extern const unsigned char tep_model[];
extern const unsigned char tep_data[];
extern const int tep_samples, tep_steps, tep_n_states;
extern const struct TepState tep_states[];
extern const unsigned char tep_fed[];
extern const size_t tep_input_bytes[];
extern uint8_t tep_arena[];
extern const size_t tep_arena_bytes;
}

static void tep_print_hex(int sample, int index, const uint8_t* bytes, size_t n) {
  static const char digits[] = "0123456789abcdef";
  char buffer[129];
  size_t k = 0;
  printf("TEP_OUT %d %d ", sample, index);
  for (size_t i = 0; i < n; ++i) {
    buffer[k++] = digits[bytes[i] >> 4];
    buffer[k++] = digits[bytes[i] & 15];
    if (k == 128) {
      buffer[k] = 0;
      fputs(buffer, stdout);
      k = 0;
    }
  }
  buffer[k] = 0;
  puts(buffer);
}

// State inputs start every sequence at real zero: 0.0f, or the zero point when quantised.
static void tep_zero_states(tflite::MicroInterpreter& it) {
  for (int k = 0; k < tep_n_states; ++k) {
    TfLiteTensor* t = it.input(tep_states[k].input);
    if (t->type == kTfLiteInt8) {
      memset(t->data.raw, (int8_t)t->params.zero_point, t->bytes);
    } else if (t->type == kTfLiteInt16) {
      for (size_t i = 0; i < t->bytes / 2; ++i) t->data.i16[i] = (int16_t)t->params.zero_point;
    } else {
      memset(t->data.raw, 0, t->bytes);
    }
  }
}

// Output k of step t becomes input k of step t+1, requantised when the two int8 tensors'
// parameters differ (round half to even, saturating).
static void tep_feed_back(tflite::MicroInterpreter& it) {
  for (int k = 0; k < tep_n_states; ++k) {
    TfLiteTensor* out = it.output(tep_states[k].output);
    TfLiteTensor* in = it.input(tep_states[k].input);
    bool same = out->params.scale == in->params.scale &&
                out->params.zero_point == in->params.zero_point;
    if (out->type != kTfLiteInt8 || same) {
      memcpy(in->data.raw, out->data.raw, in->bytes);
      continue;
    }
    float ratio = out->params.scale / in->params.scale;
    for (size_t i = 0; i < in->bytes; ++i) {
      long v = lrintf((float)(out->data.int8[i] - out->params.zero_point) * ratio) +
               in->params.zero_point;
      in->data.int8[i] = (int8_t)(v < -128 ? -128 : (v > 127 ? 127 : v));
    }
  }
}

static int tep_check_sizes(tflite::MicroInterpreter& it) {
  for (size_t i = 0; i < it.inputs_size(); ++i) {
    if (it.input(i)->bytes != tep_input_bytes[i]) {
      printf("TEP_SIZE_MISMATCH input %u: %u != %u\n", (unsigned)i, (unsigned)it.input(i)->bytes,
             (unsigned)tep_input_bytes[i]);
      return 1;
    }
  }
  return 0;
}

int main(void) {
  const tflite::Model* model = tflite::GetModel(tep_model);
  static tflite::MicroMutableOpResolver<TEP_N_OPS> resolver;
  TEP_REGISTER_OPS(resolver);
  static tflite::MicroInterpreter it(model, resolver, tep_arena, tep_arena_bytes);
  if (it.AllocateTensors() != kTfLiteOk) {
    printf("TEP_ALLOC_FAILED arena=%u\n", (unsigned)tep_arena_bytes);
    return 3;
  }
  printf("TEP_ARENA %u\n", (unsigned)it.arena_used_bytes());
  if (tep_check_sizes(it)) return 5;
  const uint8_t* data = tep_data;
  for (int s = 0; s < tep_samples; ++s) {
    it.Reset();  // variable tensors (the fused LSTM's state) restart from zero every sample
    tep_zero_states(it);
    uint64_t instructions = 0;
    for (int step = 0; step < tep_steps; ++step) {
      for (size_t i = 0; i < it.inputs_size(); ++i) {
        if (!tep_fed[i]) continue;
        memcpy(it.input(i)->data.raw, data, tep_input_bytes[i]);
        data += tep_input_bytes[i];
      }
      tep_cycles_start();
      TfLiteStatus status = it.Invoke();
      instructions += tep_instructions_since();
      if (status != kTfLiteOk) {
        printf("TEP_INVOKE_FAILED sample=%d step=%d\n", s, step);
        return 4;
      }
      if (step + 1 < tep_steps) tep_feed_back(it);
    }
    for (size_t o = 0; o < it.outputs_size(); ++o) {
      tep_print_hex(s, (int)o, it.output(o)->data.uint8, it.output(o)->bytes);
    }
    printf("TEP_INSTR %d %llu\n", s, (unsigned long long)instructions);
  }
  return 0;
}
