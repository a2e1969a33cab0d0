import numpy as np
from auedge.edge.preprocess import Normalization, QuantParams, dequantize, normalize, quantize


def test_default_normalisation_maps_pixels_to_minus_one_one():
    out = normalize(np.array([[0, 127.5, 255]], dtype=np.float32).reshape(1, 1, 3).astype(np.uint8))
    assert out.dtype == np.float32
    assert np.allclose(out, [[[-1.0, -0.0039216, 1.0]]], atol=1e-6)
    caffe = Normalization(mean=(123.68, 116.779, 103.939), std=(1, 1, 1))
    assert np.allclose(normalize(np.full((1, 1, 3), 124, np.uint8), caffe), [[[0.32, 7.221, 20.061]]], atol=1e-4)


def test_quantize_round_trip_and_saturation():
    q = QuantParams(scale=2 / 255, zero_point=0)
    x = np.array([-1.0, 0.0, 0.5, 1.0, 3.0, -2.0], np.float32)
    qx = quantize(x, q)
    assert qx.dtype == np.int8 and qx[4] == 127 and qx[5] == -128
    assert np.allclose(dequantize(qx[:4], q), x[:4], atol=q.scale)
