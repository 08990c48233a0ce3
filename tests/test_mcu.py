"""Cortex-M runs in QEMU: known programs, instruction counts, sizes, and TFLM against x86 TFLM.

The toolchain and QEMU are part of ``make install``: when they are missing these tests fail
(with the install command), they do not skip.  The TFLM library is built once per machine and
cached (see docs/mcu.md); the first run of the TFLM tests pays for that build.
"""

import subprocess
from pathlib import Path

import numpy as np
import pytest

from tf_expander_pruning.deployment.mcu import (
    TARGETS,
    McuError,
    SectionSizes,
    ensure_toolchain,
    parse_link_map,
    run_c_program,
)
from tf_expander_pruning.deployment.mcu.toolchain import tool

# A counted loop of exactly two instructions per iteration (subs + bne), in unified syntax so
# the same text assembles for Thumb-1 (M0) and Thumb-2 (M4).
LOOP_PROGRAM = r"""
#include "tep_mcu.h"
static void spin(uint32_t n) {
    __asm__ volatile(".syntax unified\n1: subs %0, %0, #1\n bne 1b" : "+l"(n) :: "cc");
}
int main(void) {
    static const uint32_t sizes[] = {SIZES};
    uint32_t total = 0;
    for (uint32_t i = 1; i <= 100; ++i) total += i;
    printf("sum %lu\n", (unsigned long)total);
    for (unsigned k = 0; k < sizeof sizes / sizeof sizes[0]; ++k) {
        tep_cycles_start();
        spin(sizes[k]);
        printf("loop %lu %llu %llu\n", (unsigned long)sizes[k],
               (unsigned long long)tep_instructions_since(), (unsigned long long)tep_ticks_since());
    }
    return 0;
}
"""
SIZES = (1000, 50_000, 400_000)
# The first TFLM test on a machine builds the TFLM library (about 7 minutes on 2 idle cores,
# cached afterwards): allow for it beyond the suite's 900 s per-test limit.
BUILDS_TFLM = pytest.mark.timeout(3600)


def _loop_counts(target: str) -> dict[int, int]:
    source = LOOP_PROGRAM.replace("SIZES", ", ".join(map(str, SIZES)))
    run = run_c_program({"main.c": source}, target=target, main="main.c")
    assert run.stdout.splitlines()[0] == "sum 5050"
    rows = [line.split() for line in run.stdout.splitlines() if line.startswith("loop ")]
    return {int(n): int(instr) for _, n, instr, _ in rows}


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_instruction_count_of_a_known_loop(target):
    counts = _loop_counts(target)
    per_tick = float(TARGETS[target].instructions_per_tick)
    # Independent expectation: two instructions per iteration.  The measured count also holds
    # the call and counter overhead (a few dozen instructions) and is rounded to whole ticks.
    for n in SIZES:
        assert 2 * n <= counts[n] + per_tick
        assert counts[n] <= 2 * n + 60 + per_tick
    slope = (counts[SIZES[-1]] - counts[SIZES[1]]) / (SIZES[-1] - SIZES[1])
    assert abs(slope - 2.0) < 2 * per_tick / (SIZES[-1] - SIZES[1])


def test_m4_float_and_cortex_m0_soft_float_agree():
    source = r"""
    #include "tep_mcu.h"
    int main(void) {
        volatile float a = 1.25f, b = 3.5f;
        float c = a * b + 0.125f;           /* exactly 4.5: representable at every step */
        printf("c*8=%d\n", (int)(c * 8.0f));
        return 0;
    }
    """
    for target in TARGETS:
        assert run_c_program({"main.c": source}, target=target, main="main.c").stdout == "c*8=36\n"


def test_object_sizes_from_the_link_map():
    data = r"""
    const unsigned char table[1000] = {1, 2, 3};
    int initialised[16] = {1, 2, 3, 4};
    unsigned char scratch[512];
    """
    main = r"""
    #include "tep_mcu.h"
    extern const unsigned char table[1000];
    extern int initialised[16];
    extern unsigned char scratch[512];
    int main(void) {
        scratch[7] = table[2] + (unsigned char)initialised[3];
        printf("%d\n", scratch[7]);
        return 0;
    }
    """
    run = run_c_program({"data.c": data, "main.c": main}, target="cortex-m4", main="main.c")
    assert run.stdout == "7\n"
    assert run.size_of("data.c") == SectionSizes(text=1000, data=64, bss=512)
    assert run.size_of("data.c").flash_bytes == 1064 and run.size_of("data.c").ram_bytes == 576
    assert run.symbols["table"] == 1000 and run.symbols["scratch"] == 512
    # The whole image: Berkeley sizes are consistent with the per-object link map.
    assert run.flash_bytes == run.text_bytes + run.data_bytes
    total = sum((s for s in run.objects.values()), SectionSizes())
    assert total.bss <= run.bss_bytes and run.bss_bytes - total.bss < 64  # alignment only
    with pytest.raises(KeyError, match="nothing.c"):
        run.size_of("nothing.c")


def test_elf_kept_in_build_dir(tmp_path):
    source = '#include "tep_mcu.h"\nint main(void) { puts("hi"); return 0; }\n'
    run = run_c_program({"main.c": source}, target="cortex-m0", main="main.c",
                        build_dir=tmp_path)
    assert run.stdout == "hi\n" and run.elf_path == str(tmp_path / "app.elf")
    berkeley = subprocess.run([tool("size"), run.elf_path], capture_output=True, text=True)
    assert [int(v) for v in berkeley.stdout.splitlines()[1].split()[:3]] == [
        run.text_bytes, run.data_bytes, run.bss_bytes]


@pytest.mark.parametrize("body, message", [
    ("return 3;", "returned non-zero"),
    ('__asm__ volatile("udf #0"); return 0;', "faulted"),
])
def test_failures_raise(body, message):
    source = '#include "tep_mcu.h"\nint main(void) { ' + body + " }\n"
    with pytest.raises(McuError, match=message):
        run_c_program({"main.c": source}, target="cortex-m4", main="main.c")


def test_argument_errors():
    with pytest.raises(ValueError, match="target"):
        run_c_program({"main.c": ""}, target="cortex-m7", main="main.c")
    with pytest.raises(ValueError, match="main"):
        run_c_program({"main.c": ""}, target="cortex-m4", main="other.c")
    with pytest.raises(TypeError, match="sources"):
        run_c_program([], target="cortex-m4", main="main.c")


def test_missing_toolchain_is_an_error_naming_the_packages(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RuntimeError, match="gcc-arm-none-eabi.*qemu-system-arm") as info:
        ensure_toolchain()
    assert "make install" in str(info.value) and "apt-get install" in str(info.value)


def test_link_map_parser():
    text = """Discarded input sections
 .text.unused   0x00000000       0x40 /tmp/a/model.o
Linker script and memory map
.text           0x00000000      0x200
 .text.predict  0x00000000      0x120 /tmp/a/model.o
 .rodata.a_very_long_section_name_that_wraps
                0x00000120       0x80 /tmp/a/model.o
 .text.Invoke   0x000001a0       0x60 /c/build/libtflm.a(micro_interpreter.o)
                0x000001a0                Invoke
.data           0x20000000        0x8 load address 0x00000200
 .data.x        0x20000000        0x8 /tmp/a/model.o
.bss            0x20000008       0x10
 .bss.y         0x20000008       0x10 /tmp/a/main.o
.debug_info     0x00000000     0x1000
 .debug_info    0x00000000     0x1000 /tmp/a/model.o
"""
    sizes = parse_link_map(text)
    assert sizes == {"model.o": SectionSizes(0x1a0, 8, 0),
                     "libtflm.a(micro_interpreter.o)": SectionSizes(0x60, 0, 0),
                     "main.o": SectionSizes(0, 0, 0x10)}
    with pytest.raises(ValueError, match="link map"):
        parse_link_map("not a map")


@BUILDS_TFLM
def test_tflm_library_is_cached_outside_the_repository():
    from tf_expander_pruning.deployment.mcu import tflm_library

    library = tflm_library("cmsis-nn")
    assert library.archive.is_file()
    repo = Path(__file__).resolve().parents[1]
    assert not library.archive.resolve().is_relative_to(repo)  # a path test, not a prefix test
    assert tflm_library("cmsis-nn").archive == library.archive  # second call: cache hit


# --- TFLM on the emulated M4 against TFLM's x86 Python runtime (tflite-micro) ----------------

def _fc_flatbuffer(rng) -> bytes:
    """A one-op int8 FULLY_CONNECTED model written with the flatbuffer schema (no converter)."""
    import flatbuffers
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb

    def tensor(shape, kind, buffer, scale, zero_point):
        t = fb.TensorT()
        t.shape, t.type, t.buffer = list(shape), kind, buffer
        t.quantization = fb.QuantizationParametersT()
        t.quantization.scale, t.quantization.zeroPoint = [scale], [zero_point]
        return t

    weights = rng.integers(-127, 128, size=(4, 8)).astype(np.int8)
    bias = rng.integers(-500, 500, size=4).astype(np.int32)
    model = fb.ModelT()
    model.version = 3
    model.buffers = [fb.BufferT() for _ in range(5)]
    model.buffers[1].data, model.buffers[2].data = list(weights.tobytes()), list(bias.tobytes())
    graph = fb.SubGraphT()
    graph.tensors = [tensor((1, 8), fb.TensorType.INT8, 3, 0.05, -3),
                     tensor((4, 8), fb.TensorType.INT8, 1, 0.01, 0),
                     tensor((4,), fb.TensorType.INT32, 2, 0.0005, 0),
                     tensor((1, 4), fb.TensorType.INT8, 4, 0.4, 5)]
    graph.inputs, graph.outputs = [0], [3]
    op = fb.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = 0, [0, 1, 2], [3]
    op.builtinOptionsType = fb.BuiltinOptions.FullyConnectedOptions
    op.builtinOptions = fb.FullyConnectedOptionsT()
    graph.operators = [op]
    code = fb.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = fb.BuiltinOperator.FULLY_CONNECTED
    model.operatorCodes, model.subgraphs = [code], [graph]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


@BUILDS_TFLM
@pytest.mark.parametrize("kernels", ["cmsis-nn", "reference"])
def test_tflm_fully_connected_equals_the_python_runtime_bit_for_bit(kernels):
    from tf_expander_pruning.deployment.mcu import run_tflm
    from tf_expander_pruning.deployment.mcu.modelinfo import read_model

    rng = np.random.default_rng(0)
    tflite = _fc_flatbuffer(rng)
    raw = rng.integers(-128, 128, size=(5, 8)).astype(np.int8)
    run = run_tflm(tflite, raw, kernels=kernels)
    expected = _python_tflm(tflite, raw)
    assert 0 < np.mean(np.abs(expected) < 127)  # not all saturated
    np.testing.assert_array_equal(run.outputs, read_model(tflite).outputs[0].dequantize(expected))
    assert run.model_bytes == len(tflite) and 0 < run.arena_bytes < 4096
    # 32 multiply-accumulates: hundreds, not millions, of instructions; same for every sample.
    assert 100 < run.instructions_per_inference < 20_000
    assert max(run.instructions) - min(run.instructions) <= 40



@pytest.fixture(scope="module")
def int8_models():
    from tf_expander_pruning.export import to_tflite
    from tf_expander_pruning.keras_compat import keras

    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).normal(size=(32, 8, 8)).astype(np.float32)
    dense = keras.Sequential([keras.layers.Input((8, 8)), keras.layers.Flatten(),
                              keras.layers.Dense(32, activation="relu"), keras.layers.Dense(4)])
    lstm = keras.Sequential([keras.layers.Input((8, 8)), keras.layers.LSTM(16),
                             keras.layers.Dense(4)])
    models = {name: to_tflite(m, quantization="int8", representative_data=x, isolate=False)
              for name, m in (("dense", dense), ("lstm", lstm))}
    return models, x[:6]


def _python_tflm(tflite: bytes, raw_inputs: np.ndarray) -> np.ndarray:
    from tflite_micro.python.tflite_micro import runtime

    it = runtime.Interpreter.from_bytes(tflite)
    outputs = []
    for sample in raw_inputs:
        it.reset()
        it.set_input(sample[None], 0)
        it.invoke()
        outputs.append(np.array(it.get_output(0))[0])
    return np.stack(outputs)


@BUILDS_TFLM
@pytest.mark.slow  # int8 conversion with the TFLite converter
@pytest.mark.parametrize("kernels", ["cmsis-nn", "reference"])
@pytest.mark.parametrize("name", ["dense", "lstm"])
def test_tflm_on_m4_equals_the_python_runtime_bit_for_bit(int8_models, name, kernels):
    from tf_expander_pruning.deployment.mcu import run_tflm
    from tf_expander_pruning.deployment.mcu.modelinfo import read_model

    models, x = int8_models
    info = read_model(models[name])
    raw = info.inputs[0].quantize(x)
    run = run_tflm(models[name], x, kernels=kernels)
    expected = info.outputs[0].dequantize(_python_tflm(models[name], raw))
    assert run.outputs.shape == (len(x), 4) and run.outputs.dtype == np.float32
    np.testing.assert_array_equal(run.outputs, expected)
    # Raw int8 inputs are used as they are: same result.
    np.testing.assert_array_equal(run_tflm(models[name], raw, kernels=kernels).outputs,
                                  run.outputs)
    assert run.model_bytes == len(models[name])
    assert 5_000 < run.code_bytes < 120_000  # TFLM's own text only, not libc or the model
    assert 0 < run.arena_bytes < 64_000
    assert len(run.instructions) == len(x) and run.instructions_per_inference > 1000
    # Fixed shapes: the work per sample is fixed up to clamping branches (within 1 %).
    assert max(run.instructions) - min(run.instructions) <= 0.01 * run.instructions_per_inference


@BUILDS_TFLM
@pytest.mark.slow  # int8 conversion with the TFLite converter
def test_tflm_cmsis_is_cheaper_than_reference_on_the_lstm(int8_models):
    from tf_expander_pruning.deployment.mcu import run_tflm

    models, x = int8_models
    cmsis = run_tflm(models["lstm"], x[:2], kernels="cmsis-nn")
    reference = run_tflm(models["lstm"], x[:2], kernels="reference")
    assert cmsis.instructions_per_inference < reference.instructions_per_inference


@BUILDS_TFLM
def test_tflm_arena_too_small_and_bad_inputs():
    from tf_expander_pruning.deployment.mcu import McuError, run_tflm

    tflite = _fc_flatbuffer(np.random.default_rng(0))
    x = np.zeros((2, 8), np.float32)
    with pytest.raises(McuError, match="TEP_ALLOC_FAILED"):
        run_tflm(tflite, x, arena_bytes=256)
    with pytest.raises(ValueError, match="8 values per sample"):
        run_tflm(tflite, x[:, :4])
    with pytest.raises(ValueError, match="cortex-m4"):
        run_tflm(tflite, x, target="cortex-m0")
    with pytest.raises(ValueError, match="kernels"):
        run_tflm(tflite, x, kernels="fast")
    with pytest.raises(ValueError, match="streaming"):
        run_tflm(tflite, x[:, None], streaming={"x_input": 0, "states": [(0, 0)]})


def _one_step_model():
    """x_t (1, 8), h (1, 16) -> y (1, 4), h' = tanh(W x_t + U h + b): a hand-made RNN step."""
    from tf_expander_pruning.keras_compat import keras, tf

    keras.utils.set_random_seed(1)
    x_in, h_in = keras.layers.Input((8,), batch_size=1), keras.layers.Input((16,), batch_size=1)
    h_new = keras.layers.Activation("tanh")(
        keras.layers.Add()([keras.layers.Dense(16)(x_in),
                            keras.layers.Dense(16, use_bias=False)(h_in)]))
    model = keras.Model([x_in, h_in], [keras.layers.Dense(4)(h_new), h_new])
    fn = tf.function(lambda x, h: model([x, h])).get_concrete_function(
        tf.TensorSpec([1, 8], tf.float32), tf.TensorSpec([1, 16], tf.float32))
    rng = np.random.default_rng(2)

    def representative():
        for _ in range(64):
            yield [rng.normal(size=(1, 8)).astype(np.float32),
                   rng.uniform(-1, 1, size=(1, 16)).astype(np.float32)]

    converter = tf.lite.TFLiteConverter.from_concrete_functions([fn], model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = converter.inference_output_type = tf.int8
    return converter.convert()


@BUILDS_TFLM
@pytest.mark.slow  # int8 conversion with the TFLite converter
def test_tflm_streaming_one_step_model_matches_a_python_loop():
    from tflite_micro.python.tflite_micro import runtime

    from tf_expander_pruning.deployment.mcu import run_tflm
    from tf_expander_pruning.deployment.mcu.modelinfo import read_model

    tflite = _one_step_model()
    info = read_model(tflite)
    x_index = next(i for i, t in enumerate(info.inputs) if t.shape == (1, 8))
    h_index = 1 - x_index
    y_index = next(i for i, t in enumerate(info.outputs) if t.shape == (1, 4))
    h_out = 1 - y_index
    xs = np.random.default_rng(3).normal(size=(3, 5, 8)).astype(np.float32)
    run = run_tflm(tflite, xs, streaming={"x_input": x_index, "states": [(h_out, h_index)]})
    # Independent loop in the x86 runtime; the state is requantised between the two tensors'
    # parameters with float32 arithmetic and round half to even, as documented.
    src, dst = info.outputs[h_out], info.inputs[h_index]
    ratio = np.float32(src.scale) / np.float32(dst.scale)
    it = runtime.Interpreter.from_bytes(tflite)
    expected = []
    for seq in xs:
        it.reset()
        h = np.full((1, 16), dst.zero_point, np.int8)
        for x_t in seq:
            it.set_input(info.inputs[x_index].quantize(x_t[None]), x_index)
            it.set_input(h, h_index)
            it.invoke()
            q = np.array(it.get_output(h_out)).astype(np.float32) - np.float32(src.zero_point)
            h = np.clip(np.rint(q * ratio) + dst.zero_point, -128, 127).astype(np.int8)
        expected.append(info.outputs[y_index].dequantize(np.array(it.get_output(y_index))[0]))
    assert run.outputs is run.all_outputs[y_index]  # the first output that is not a state
    np.testing.assert_array_equal(run.all_outputs[y_index], np.stack(expected))
    assert len(run.instructions) == 3 and run.instructions_per_inference > 5 * 200
