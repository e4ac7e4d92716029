"""From BWK mapping units (karteringseenheden) to the 14 classes.

The paper's own grouping of BVM mapping units into its 14 classes was never
published, so the package ships its own mapping as data:
``torchgeo_bvm/data/bwk_units_v1.csv`` (columns ``code``, ``dutch``, ``class``),
version :data:`MAPPING_VERSION`. It lists the units of the INBO legend with
their Dutch description and class. A unit code is classified by these rules,
in priority order (the first that applies wins):

1. Normalise: strip spaces, lower-case, printed ``*`` -> ``+`` and ``°`` -> ``-``,
   keep the part before a ``/`` (``A/B``: A grew out of B, classify on A).
   An empty code or ``ng`` (not mapped) is Unknown.
2. Exact codes of the table; any ``kp...`` unit (parks, cemeteries) is Urban.
3. Bracketed small features ``k(x)``, ``kt(x)``, ``kh(x)``, ``kb(x)``: the wrapper
   ``kh``/``kb``/``khw`` or a woody ``x`` (first letter f, q, v, r, l, p, n or s,
   or a tree code of :data:`TREE_CODES`) -> Small Woody Landscape Features,
   otherwise Small Non-woody Landscape Features.
4. ``kb...``, ``kh...`` (``khw...``), ``kj`` and a tree code alone -> Small Woody
   Landscape Features.
5. ``kn`` (pond), ``km`` (wall vegetation) -> Small Non-woody Landscape Features.
6. Structure-only units ``kt kw kd ks ka kf kf- kk`` -> Small Landscape Features -
   not Specified.
7. Strip ``+``/``-``, then a trailing ``b`` (scrub encroachment), and apply 2-6
   again.
8. First letter: a Water bodies, b Cultivated land, c Heathland, f q v r l p n s
   Woodland and shrub, h Grasslands, m t Inland marshes, u Urban areas, other k
   Small Landscape Features - not Specified, anything else Unknown.
9. Only when 1-8 gave "not Specified" or Unknown, the Natura 2000 habitat
   ``HAB1`` breaks the tie: 1110, 1130, 1140, 1310_zk, 1310_zv, 1320, 1330_da ->
   Marine habitats; 21xx -> Coastal dune habitats; 2330, 6120 -> Pioneer
   vegetation.

**Unmapped codes.** Codes that end up Unknown through rule 1 or 8 (empty, ``ng``,
an unknown first letter) and are not rescued by rule 9 keep the class
*Unknown* (id 10), as in the paper, which has an Unknown class: they are
labelled, not ignored. :class:`MappingResult` counts them per code so that
datasets can report them once.

**Integer labels.** A labelled copy such as the paper's ``BVM_labeled.zip``
(column ``Label``, 1..14, 0 = no label) is mapped by :func:`map_integer_labels`:
1..14 -> class ids 0..13, 0 -> :data:`~torchgeo_bvm.classes.IGNORE_INDEX`; any
other value (or a missing one) is counted as unmapped and also becomes
:data:`~torchgeo_bvm.classes.IGNORE_INDEX`.
"""

from __future__ import annotations

import logging
import os
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ..classes import CLASSES, IGNORE_INDEX, NUM_CLASSES, class_by_name
from ..errors import BVMNotFoundError, BVMValueError

__all__ = [
    'MAPPING_FILE',
    'MAPPING_VERSION',
    'TREE_CODES',
    'MappingResult',
    'UnitMapping',
    'classify_habitat',
    'load_mapping_table',
    'map_integer_labels',
    'normalise_code',
]

#: Version of the shipped mapping table; bump it (and the file name) on any change.
MAPPING_VERSION = 'v1'
#: File name of the shipped mapping table inside ``torchgeo_bvm/data``.
MAPPING_FILE = f'bwk_units_{MAPPING_VERSION}.csv'

_ID = {c.name: c.id for c in CLASSES}
# Summaries of unmapped values already logged in this process.
_REPORTED: set[tuple[str, str, str]] = set()
COASTAL_DUNE = _ID['Coastal dune habitats']
MARINE = _ID['Marine habitats']
PIONEER = _ID['Pioneer vegetation']
NOT_SPECIFIED = _ID['Small Landscape Features - not Specified']
NON_WOODY = _ID['Small Non-woody Landscape Features']
WOODY = _ID['Small Woody Landscape Features']
UNKNOWN = _ID['Unknown']
URBAN = _ID['Urban areas']

#: Tree (genus) codes used alone or inside brackets for small woody features.
TREE_CODES: frozenset[str] = frozenset(
    {
        'ace', 'aes', 'aln', 'bet', 'car', 'cas', 'cor', 'cra', 'fag', 'fra',
        'ile', 'jug', 'lar', 'mal', 'pic', 'pin', 'pla', 'pop', 'pru', 'pse',
        'pyr', 'que', 'rob', 'sal', 'sam', 'sor', 'tax', 'til', 'ulm',
    }
)  # fmt: skip

_WOODY_LETTERS = frozenset('fqvrlpns')
_FIRST_LETTER: dict[str, int] = {
    'a': _ID['Water bodies'],
    'b': _ID['Cultivated land'],
    'c': _ID['Heathland'],
    'h': _ID['Grasslands'],
    'm': _ID['Inland marshes'],
    't': _ID['Inland marshes'],
    'u': URBAN,
    'k': NOT_SPECIFIED,
    **dict.fromkeys(_WOODY_LETTERS, _ID['Woodland and shrub']),
}
_STRUCTURE_ONLY = frozenset({'kt', 'kw', 'kd', 'ks', 'ka', 'kf', 'kf-', 'kk'})
_BRACKETED = re.compile(r'^(?P<wrapper>[a-z+-]*)\((?P<inner>[^()]*)\)')
_MARINE_HABITATS = frozenset({'1110', '1130', '1140', '1320'})
_MARINE_SUBTYPES = frozenset({'1310_zk', '1310_zv', '1330_da'})
_PIONEER_HABITATS = frozenset({'2330', '6120'})


def normalise_code(code: object) -> str:
    """Normalise a mapping unit as rule 1 says.

    Args:
        code: the unit as written in ``EENH1`` (or ``None``/NaN).

    Returns:
        The lower-case code with ``*`` -> ``+``, ``°`` -> ``-``, no spaces, cut
        before the first ``/`` outside brackets; ``''`` for a missing code.
    """
    if code is None or (isinstance(code, float) and np.isnan(code)):
        return ''
    text = ''.join(str(code).split()).lower().replace('*', '+').replace('°', '-')
    depth = 0
    for i, char in enumerate(text):
        depth += (char == '(') - (char == ')')
        if char == '/' and depth == 0:
            return text[:i]
    return text


def classify_habitat(hab1: object) -> int | None:
    """Rule 9: the class a Natura 2000 habitat code implies, if any.

    Args:
        hab1: the ``HAB1`` value, e.g. ``'1330_da'``, ``'2190_mp,2170'`` (only the
            first of comma-separated uncertain types counts).

    Returns:
        Marine, Coastal dune or Pioneer vegetation class id, or ``None``.
    """
    text = normalise_code(hab1).split(',')[0]
    base = text.split('_')[0]
    if base in _MARINE_HABITATS or text in _MARINE_SUBTYPES:
        return MARINE
    if len(base) == 4 and base.startswith('21') and base.isdigit():
        return COASTAL_DUNE
    if base in _PIONEER_HABITATS:
        return PIONEER
    return None


def load_mapping_table(
    source: str | os.PathLike[str] | pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Load a unit -> class table and check it.

    Args:
        source: a CSV file or DataFrame with a ``code`` column and a ``class``
            column (class name as in :data:`~torchgeo_bvm.classes.CLASS_NAMES` or
            an id 0..13; ``proposed_class`` is accepted as the class column);
            ``None`` for the shipped table :data:`MAPPING_FILE`.

    Returns:
        A DataFrame with columns ``code`` (normalised), ``class_id`` and the
        original columns.

    Raises:
        FileNotFoundError: if the file does not exist.
        ValueError: if a column is missing, a class is unknown or a code is
            listed twice with different classes.
    """
    if source is None:
        with (resources.files('torchgeo_bvm') / 'data' / MAPPING_FILE).open() as f:
            frame = pd.read_csv(f, dtype=str, keep_default_na=False)
        name = MAPPING_FILE
    elif isinstance(source, pd.DataFrame):
        frame, name = source.copy(), 'mapping table'
    else:
        path = Path(source)
        if not path.exists():
            raise BVMNotFoundError(f'mapping table not found: {path}')
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        name = str(path)
    if 'class' not in frame.columns and 'proposed_class' in frame.columns:
        frame = frame.rename(columns={'proposed_class': 'class'})
    missing = [c for c in ('code', 'class') if c not in frame.columns]
    if missing:
        raise BVMValueError(
            f'{name}: missing column(s) {", ".join(missing)}; expected columns code '
            f'and class, found {", ".join(map(str, frame.columns))}'
        )
    frame['code'] = [normalise_code(c) for c in frame['code']]
    frame['class_id'] = [_class_id(value, name) for value in frame['class']]
    clashes = frame.groupby('code')['class_id'].nunique()
    if (clashes > 1).any():
        raise BVMValueError(
            f'{name}: codes with conflicting classes: '
            f'{", ".join(clashes.index[clashes > 1])}'
        )
    return frame.drop_duplicates('code').reset_index(drop=True)


def _class_id(value: object, name: str) -> int:
    text = str(value).strip()
    if text.isdigit() and int(text) < NUM_CLASSES:
        return int(text)
    try:
        return class_by_name(text).id
    except ValueError as error:
        raise BVMValueError(f'{name}: {error}') from None


@dataclass
class MappingResult:
    """Class ids of a column of labels, with what could not be mapped.

    Args:
        ids: one class id per row (uint8; 0..13 or IGNORE_INDEX).
        unmapped: raw value -> number of rows that no rule mapped.
        unmapped_id: the id those rows received (Unknown or IGNORE_INDEX).
        fallback: code -> number of rows classified by the first letter only.
    """

    ids: NDArray[np.uint8]
    unmapped: Counter[str] = field(default_factory=Counter)
    unmapped_id: int = UNKNOWN
    fallback: Counter[str] = field(default_factory=Counter)

    def message(self, source: str, column: str, top: int = 10) -> str | None:
        """Describe the unmapped values in one line, or ``None`` if there are none.

        Args:
            source: the file the values came from.
            column: the column they came from.
            top: how many of the most frequent values to list.

        Returns:
            The message.
        """
        total = sum(self.unmapped.values())
        if not total:
            return None
        what = (
            f'class {self.unmapped_id} ({CLASSES[self.unmapped_id].name})'
            if self.unmapped_id < NUM_CLASSES
            else f'IGNORE_INDEX ({self.unmapped_id})'
        )
        listed = ', '.join(
            f'{value or "<empty>"!r} x {count}'
            for value, count in self.unmapped.most_common(top)
        )
        more = len(self.unmapped) - top
        tail = f' and {more} more' if more > 0 else ''
        return (
            f'{source}: {total} of {len(self.ids)} features have an empty or unmapped '
            f'{column} and were labelled {what}; most frequent: {listed}{tail}'
        )

    def warn(self, source: str, column: str, top: int = 10) -> None:
        """Log :meth:`message` once per process, if anything was unmapped.

        The summary goes to the ``torchgeo_bvm`` logger at WARNING level, which
        Python prints as one line on stderr when no logging is configured. The
        same file and column are reported once per process, however many
        datasets, data-module stages or commands of one run read them.

        Args:
            source: the file the values came from.
            column: the column they came from.
            top: how many of the most frequent values to list.
        """
        text = self.message(source, column, top)
        if text and (source, column, text) not in _REPORTED:
            _REPORTED.add((source, column, text))
            logging.getLogger('torchgeo_bvm').warning(text)


class UnitMapping:
    """Classify BWK mapping units by the rules of this module.

    Args:
        table: a unit -> class table (see :func:`load_mapping_table`); ``None``
            for the shipped table, version :data:`MAPPING_VERSION`.

    Raises:
        FileNotFoundError: if a table file does not exist.
        ValueError: if the table is malformed.
    """

    def __init__(
        self, table: str | os.PathLike[str] | pd.DataFrame | None = None
    ) -> None:
        self.table = load_mapping_table(table)
        self.version = MAPPING_VERSION if table is None else 'user'
        self._exact: dict[str, int] = dict(
            zip(self.table['code'], self.table['class_id'], strict=True)
        )

    def classify(self, code: object, hab1: object = None) -> int:
        """Classify one unit.

        Args:
            code: the unit (``EENH1``).
            hab1: the polygon's ``HAB1`` (tie-breaker, rule 9).

        Returns:
            The class id 0..13.
        """
        class_id, _ = self._classify_unit(normalise_code(code))
        if class_id in (NOT_SPECIFIED, UNKNOWN) and hab1 is not None:
            implied = classify_habitat(hab1)
            if implied is not None:
                return implied
        return class_id

    def _classify_unit(self, code: str) -> tuple[int, str]:
        """Rules 1-8 on a normalised code; also says which rule decided."""
        if code in ('', 'ng'):
            return UNKNOWN, 'unmapped'
        for candidate in (code, _strip_suffixes(code)):
            found = self._rules_2_to_6(candidate)
            if found is not None:
                return found, 'rule'
        stripped = _strip_suffixes(code)
        by_letter = _FIRST_LETTER.get(stripped[:1])
        if by_letter is None:
            return UNKNOWN, 'unmapped'
        return by_letter, 'fallback'

    def _rules_2_to_6(self, code: str) -> int | None:
        if code in self._exact:
            return self._exact[code]
        if code.startswith('kp'):
            return URBAN
        bracketed = _BRACKETED.match(code)
        if bracketed:
            return self._bracketed(bracketed['wrapper'], bracketed['inner'])
        if code.startswith(('kb', 'kh')) or code == 'kj' or code in TREE_CODES:
            return WOODY
        if code in ('kn', 'km'):
            return NON_WOODY
        if code in _STRUCTURE_ONLY:
            return NOT_SPECIFIED
        return None

    def _bracketed(self, wrapper: str, inner: str) -> int | None:
        wrapper = wrapper.rstrip('+-')
        if not wrapper.startswith('k'):
            # Not a small-feature notation: the bracket only qualifies the unit.
            return self._rules_2_to_6(wrapper) if wrapper else None
        if wrapper in ('kh', 'kb', 'khw'):
            return WOODY
        inner = inner.strip('+-')
        if inner[:1] in _WOODY_LETTERS or inner[:3] in TREE_CODES:
            return WOODY
        return NON_WOODY

    def map_codes(
        self,
        codes: Sequence[object] | pd.Series,
        hab1: Sequence[object] | pd.Series | None = None,
    ) -> MappingResult:
        """Classify a whole column, once per distinct value.

        Args:
            codes: ``EENH1`` of every feature.
            hab1: ``HAB1`` of every feature (tie-breaker), or ``None``.

        Returns:
            The class ids, with the codes that stayed Unknown and those mapped by
            the first letter only.
        """
        # Classifying each distinct code once keeps 650,000 rows at well under a
        # second: the map has only a few thousand distinct codes.
        inverse, uniques = pd.factorize(pd.Series(codes, dtype=object), sort=False)
        normalised = [normalise_code(u) for u in uniques]
        decided = [self._classify_unit(c) for c in normalised]
        lut = np.array([d[0] for d in decided] + [UNKNOWN], dtype=np.uint8)
        ids = lut[inverse]  # inverse is -1 for missing values -> the UNKNOWN appended
        if hab1 is not None:
            self._break_ties(ids, pd.Series(hab1, dtype=object))
        how = [d[1] for d in decided] + ['unmapped']
        names = [*normalised, '']
        unmapped: Counter[str] = Counter()
        fallback: Counter[str] = Counter()
        counts = np.bincount(inverse + 1, minlength=len(uniques) + 1)
        still_unknown = np.bincount(
            (inverse + 1)[ids == UNKNOWN], minlength=len(uniques) + 1
        )
        for k in range(len(uniques) + 1):
            code_index = k - 1  # bincount slot 0 holds the missing values
            kind, name = how[code_index], names[code_index]
            if kind == 'unmapped' and still_unknown[k]:
                unmapped[name] += int(still_unknown[k])
            elif kind == 'fallback' and counts[k]:
                fallback[name] += int(counts[k])
        return MappingResult(ids, unmapped, UNKNOWN, fallback)

    @staticmethod
    def _break_ties(ids: NDArray[np.uint8], hab1: pd.Series) -> None:
        open_rows = np.flatnonzero((ids == NOT_SPECIFIED) | (ids == UNKNOWN))
        if not len(open_rows):
            return
        inverse, uniques = pd.factorize(hab1.iloc[open_rows], sort=False)
        implied = [classify_habitat(u) for u in uniques]
        lut = np.array([-1 if c is None else c for c in implied] + [-1], dtype=np.int16)
        found = lut[inverse]
        hit = found >= 0
        ids[open_rows[hit]] = found[hit].astype(np.uint8)


def _strip_suffixes(code: str) -> str:
    """Rule 7: drop ``+``/``-`` (outside brackets), then one trailing ``b``."""
    head, bracket, tail = code.partition('(')
    head = head.replace('+', '').replace('-', '')
    if not bracket:
        return head[:-1] if head.endswith('b') and len(head) > 1 else head
    return head + bracket + tail


def map_integer_labels(values: Iterable[object] | pd.Series) -> MappingResult:
    """Map an integer label column such as the paper's ``Label``.

    Args:
        values: one label per feature: 1..14 = classes, 0 = no label.

    Returns:
        Class ids 0..13 for 1..14 and IGNORE_INDEX for 0; any other value, or a
        missing one, is IGNORE_INDEX too and counted in ``unmapped``.
    """
    series = pd.to_numeric(pd.Series(list(values), dtype=object), errors='coerce')
    numbers = series.to_numpy(dtype=np.float64, na_value=np.nan)
    valid = np.isfinite(numbers) & (numbers == np.round(numbers))
    valid &= (numbers >= 0) & (numbers <= NUM_CLASSES)
    ids = np.full(len(numbers), IGNORE_INDEX, dtype=np.uint8)
    labelled = valid & (numbers >= 1)
    ids[labelled] = (numbers[labelled] - 1).astype(np.uint8)
    bad = pd.Series(values if isinstance(values, pd.Series) else list(values))[~valid]
    unmapped = Counter('' if pd.isna(v) else str(v) for v in bad)
    return MappingResult(ids, unmapped, IGNORE_INDEX)
