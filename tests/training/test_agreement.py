"""What a batch holds, and whether a checkpoint and a model agree with it."""

import pytest
from torchgeo.tasks import SemanticSegmentation, SpatioTemporalSegmentation

from torchgeo_bvm.errors import BVMValueError
from torchgeo_bvm.training.agreement import InputLayout

RGB = ('B02', 'B03', 'B04')
SINGLE = InputLayout(RGB)
YEAR = InputLayout(RGB, 'monthly', 12, None, 'time')
SPRING = InputLayout(RGB, 'monthly', 3, (3, 4, 5), 'channels')
DATES = InputLayout(RGB, 'dates', 8, None, 'time')


def test_layouts_in_words_channels_and_state() -> None:
    assert SINGLE.words() == 'single dates of the bands B02, B03, B04'
    assert YEAR.words() == (
        'series of 12 months (1-12) of the bands B02, B03, B04, stacked in time'
    )
    assert SPRING.words() == (
        'series of 3 months (3-5) of the bands B02, B03, B04, stacked as channels'
    )
    assert DATES.words().startswith('series of 8 dates of the bands')
    assert (SINGLE.channels, YEAR.channels, SPRING.channels) == (3, 3, 9)
    assert (SINGLE.time_dimension, YEAR.time_dimension) == (False, True)
    for layout in (SINGLE, YEAR, SPRING, DATES):
        assert InputLayout.from_state(layout.state()) == layout
        layout.check_saved(layout)


@pytest.mark.parametrize(
    ('saved', 'current', 'options'),
    [
        (SINGLE, InputLayout(('B03', 'B04', 'B08')), 'imagery.bands'),
        (
            InputLayout(('B04', 'VV', 'VH')),
            InputLayout(('B04', 'VV')),
            'imagery.bands and radar.bands',
        ),
        (SINGLE, YEAR, 'time_series and series.temporal'),
        (YEAR, SPRING, 'imagery.months and series.stack'),
        (DATES, InputLayout(RGB, 'dates', 16, None, 'time'), 'series.max_dates'),
    ],
)
def test_a_checkpoint_of_other_data_is_refused_naming_both(
    saved: InputLayout, current: InputLayout, options: str
) -> None:
    with pytest.raises(BVMValueError) as error:
        current.check_saved(saved)
    assert str(error.value) == (
        f'the checkpoint was trained on {saved.words()}, and the data module reads '
        f'{current.words()}: set {options} as in training'
    )


def test_a_model_is_checked_against_the_batches() -> None:
    unet = SemanticSegmentation(
        model='fcn', in_channels=9, num_classes=14, num_filters=4
    )
    SPRING.check_model(unet, classes=True)
    with pytest.raises(BVMValueError, match='takes 9 input channels'):
        SINGLE.check_model(unet, classes=True)
    convlstm = SpatioTemporalSegmentation(
        in_channels=3, num_classes=14, hidden_dim=4, num_layers=1
    )
    YEAR.check_model(convlstm, classes=True)
    with pytest.raises(BVMValueError, match=r'reads series \(B, T, C, H, W\)'):
        SPRING.check_model(convlstm, classes=True)
    many = SemanticSegmentation(
        model='fcn', in_channels=3, num_classes=15, num_filters=4
    )
    SINGLE.check_model(many, classes=False)  # training may
    with pytest.raises(BVMValueError, match='predicts 15 classes'):
        SINGLE.check_model(many, classes=True)
