"""CI gate on a second generator trained differently (zoo:duotone_init, the previous default's init phase:
reconstruction only): its TensorRT-placement INT8 file holds its floor on the 15 unseen pictures too. A default tuned
on one model once cost another 7.7 dB."""

from gate_helpers import gated_int8


def test_int8_qdq_of_a_second_generator_holds_its_floor(tmp_path):
    gated_int8("duotone_init", "tensorrt", 43.5, 0.0, tmp_path)  # 44.91 (28.87) measured for reports/zoo (as "init")
