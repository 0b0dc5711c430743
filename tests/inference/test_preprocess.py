import numpy as np

from fer_core.inference.preprocess import convert_face, zoom_batch


def _square(size: int = 48, half: int = 8) -> np.ndarray:
    img = np.zeros((1, size, size, 1), np.float32)
    c = size // 2
    img[0, c - half:c + half, c - half:c + half, 0] = 1.0
    return img


def test_zoom_of_one_changes_nothing():
    x = np.random.default_rng(0).random((3, 48, 48, 1)).astype(np.float32)
    assert np.allclose(zoom_batch(x, 1.0), x, atol=1e-5)


def test_zoom_in_grows_and_zoom_out_shrinks_a_centred_square():
    x = _square()
    area = float(x.sum())
    assert zoom_batch(x, 1.25).sum() > area * 1.4   # 1.25^2 = 1.56
    assert zoom_batch(x, 0.8).sum() < area * 0.75   # 0.8^2 = 0.64
    # centred: the middle pixel stays inside the square either way
    assert zoom_batch(x, 1.25)[0, 24, 24, 0] == 1.0 and zoom_batch(x, 0.8)[0, 24, 24, 0] == 1.0


def test_zoom_keeps_shape_dtype_and_channels():
    x = np.random.default_rng(1).random((2, 40, 32, 3)).astype(np.float32)
    z = zoom_batch(x, 1.1)
    assert z.shape == x.shape and z.dtype == x.dtype
    # each channel is warped on its own: a channel that is constant stays constant
    x[..., 1] = 0.5
    assert np.allclose(zoom_batch(x, 0.9)[..., 1], 0.5, atol=1e-6)


def test_convert_face_sizes_and_colours():
    rgb = np.zeros((100, 80, 3), np.uint8)
    rgb[..., 0] = 255
    assert convert_face(rgb, (48, 48), "grayscale").shape == (48, 48, 1)
    assert convert_face(rgb, (64, 64), "rgb")[0, 0].tolist() == [255, 0, 0]
    assert convert_face(rgb, (64, 64), "bgr")[0, 0].tolist() == [0, 0, 255]


def test_framed_square_widens_a_tall_box_to_a_square():
    from fer_core.inference.preprocess import framed_square

    img = np.arange(200 * 200, dtype=np.int64).reshape(200, 200) % 251
    crop = framed_square(img.astype(np.uint8), (80, 60, 40, 52), (0.15, 0.0, 0.15, 0.0))
    assert crop.shape == (52, 52)  # 40 * 1.3 = 52 wide, the box's 52 tall
    assert np.array_equal(crop, img[60:112, 74:126].astype(np.uint8))  # centred on the box


def test_framed_square_pads_at_the_edge_instead_of_stretching():
    from fer_core.inference.preprocess import framed_square

    img = np.full((100, 100, 3), 7, np.uint8)
    img[:, :10] = 200
    crop = framed_square(img, (0, 20, 30, 40), (0.15, 0.0, 0.15, 0.0))
    assert crop.shape == (40, 40, 3)
    assert (crop[:, 0] == 200).all()  # the part left of the frame repeats its edge


def test_crop_face_follows_the_detector():
    from fer_core.inference.preprocess import crop_face, crop_with_margin

    img = np.random.default_rng(0).integers(0, 255, (120, 160), dtype=np.uint8)
    box = (40, 30, 40, 52)

    class Framed:
        framing = (0.15, 0.0, 0.15, 0.0)

    assert crop_face(img, box, Framed(), 0.15).shape == (52, 52)
    assert np.array_equal(crop_face(img, box, object(), 0.15), crop_with_margin(img, box, 0.15))
