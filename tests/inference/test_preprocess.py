import numpy as np
import pytest

from fer_core.inference.detection import Box
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
    box = Box(40, 30, 40, 52)

    class Framed:
        framing = (0.15, 0.0, 0.15, 0.0)

    assert crop_face(img, box, Framed(), 0.15).shape == (52, 52)
    assert np.array_equal(crop_face(img, box, object(), 0.15), crop_with_margin(img, box.as_tuple(), 0.15))


def _two_eyes(roll: float, size: int = 200) -> tuple[np.ndarray, Box]:
    """A gray frame with two bright 'eyes' 60 px apart, their line turned ``roll`` degrees clockwise
    on screen about the frame's centre, and the box a detector would give with those eyes."""
    import cv2

    img = np.zeros((size, size), np.uint8)
    c = size / 2
    dx, dy = 30 * np.cos(np.radians(roll)), 30 * np.sin(np.radians(roll))
    eyes = (c - dx, c - dy, c + dx, c + dy)  # the person's right eye is on the image's left
    for x, y in ((eyes[0], eyes[1]), (eyes[2], eyes[3])):
        cv2.circle(img, (int(round(x)), int(round(y))), 4, 255, -1)
    return img, Box(60, 50, 80, 100, 0.9, eyes)


def _dots_roll(crop: np.ndarray) -> float:
    """The angle (degrees, clockwise on screen) of the line through the two bright blobs of ``crop``."""
    import cv2

    n, _, _, centres = cv2.connectedComponentsWithStats((crop > 128).astype(np.uint8))
    assert n == 3, "both eyes must stay in the crop"
    (x0, y0), (x1, y1) = sorted(centres[1:].tolist())
    return float(np.degrees(np.arctan2(y1 - y0, x1 - x0)))


def test_box_roll_from_the_eyes():
    assert Box(0, 0, 10, 10).roll is None
    assert _two_eyes(20.0)[1].roll == pytest.approx(20.0)
    assert _two_eyes(-15.0)[1].roll == pytest.approx(-15.0)


@pytest.mark.parametrize("roll,beyond,turn", [(20.0, 8.0, 12.0), (-20.0, 8.0, -12.0), (5.0, 8.0, 0.0),
                                              (-8.0, 8.0, 0.0), (3.0, 0.0, 3.0), (30.0, None, 0.0),
                                              (None, 8.0, 0.0)])
def test_tilt_to_undo_leaves_the_lean_training_faces_have(roll, beyond, turn):
    from fer_core.inference.preprocess import tilt_to_undo

    assert tilt_to_undo(roll, beyond) == pytest.approx(turn)


class _Levelling:
    framing = (0.15, 0.0, 0.15, 0.0)
    level_beyond = 8.0


@pytest.mark.parametrize("roll", [25.0, -25.0, 14.0])
def test_crop_face_turns_a_tilted_head_back_to_the_lean_allowed(roll):
    from fer_core.inference.preprocess import crop_face

    img, box = _two_eyes(roll)
    crop = crop_face(img, box, _Levelling(), 0.15)
    assert crop.shape == (104, 104)  # the framed square: the 80 px box width grown 15% each side
    assert _dots_roll(crop) == pytest.approx(np.sign(roll) * 8.0, abs=1.5)


def test_crop_face_leaves_a_slight_lean_and_detectors_without_levelling_alone():
    from fer_core.inference.preprocess import crop_face, framed_square

    img, box = _two_eyes(6.0)
    assert np.array_equal(crop_face(img, box, _Levelling(), 0.15), framed_square(img, box.as_tuple(),
                                                                               _Levelling.framing))
    img, box = _two_eyes(25.0)

    class NoLevel:
        framing = (0.15, 0.0, 0.15, 0.0)
        level_beyond = None

    crop = crop_face(img, box, NoLevel(), 0.15)
    assert np.array_equal(crop, framed_square(img, box.as_tuple(), NoLevel.framing))
    assert _dots_roll(crop) == pytest.approx(25.0, abs=1.5)


def test_with_face_crops_cuts_a_datasets_full_photos_to_the_largest_face(tmp_path, astronaut):
    from PIL import Image

    from fer_core.data.datasets import load_dataset
    from fer_core.errors import ImageError
    from fer_core.inference.preprocess import with_face_crops

    for cls in ("happy", "sad"):
        (tmp_path / "photos" / cls).mkdir(parents=True)
    canvas = np.full((600, 900, 3), 90, np.uint8)
    canvas[40:552, 300:812] = astronaut
    Image.fromarray(canvas).save(tmp_path / "photos" / "happy" / "full.png")
    Image.fromarray(np.full((200, 200, 3), 90, np.uint8)).save(tmp_path / "photos" / "sad" / "blank.png")
    split = with_face_crops(load_dataset(tmp_path / "photos")).split(None)
    face = split.image(0)
    assert face.shape[0] < 300 and face.shape[1] < 300  # the face, not the 900x600 photo
    assert face.mean() != 90  # not the plain background
    with pytest.raises(ImageError, match="no face"):
        split.image(1)
def test_convert_face_values_worked_out_by_hand():
    """Grey is ITU-R BT.601 luma of RGB (a BGR reading would give 96 for this orange, not 124); halving
    a two-tone crop averages whole 2x2 blocks, so the edge stays sharp; rgb/bgr keep or swap the order."""
    orange = np.empty((96, 96, 3), np.uint8)
    orange[...] = (200, 100, 50)  # 0.299*200 + 0.587*100 + 0.114*50 = 124.2
    assert (convert_face(orange, (48, 48), "grayscale") == 124).all()
    halves = np.zeros((96, 96), np.uint8)
    halves[:, :48] = 255
    small = convert_face(halves, (48, 48), "grayscale")[:, :, 0]
    assert (small[:, :24] == 255).all() and (small[:, 24:] == 0).all()
    assert convert_face(orange, (48, 48), "rgb")[5, 5].tolist() == [200, 100, 50]
    assert convert_face(orange, (48, 48), "bgr")[5, 5].tolist() == [50, 100, 200]
    gray = np.full((20, 20), 77, np.uint8)
    assert convert_face(gray, (48, 48), "rgb")[0, 0].tolist() == [77, 77, 77]  # a grey crop fed to a colour model


def test_crop_with_margin_worked_out_by_hand():
    """Box x 40, y 30, 40x52, margin 0.15: 6 px more each side across (0.15 * 40), 8 down (0.15 * 52 = 7.8)."""
    from fer_core.inference.preprocess import crop_with_margin

    img = np.arange(120 * 160, dtype=np.int64).reshape(120, 160)
    assert np.array_equal(crop_with_margin(img, (40, 30, 40, 52), 0.15), img[22:90, 34:86])
    # at the picture's corner the crop is clipped, not padded
    assert np.array_equal(crop_with_margin(img, (0, 0, 40, 40), 0.15), img[0:46, 0:46])
