"""Guest sheet headers: aliases in English and Russian, and finding the header row."""

import re
from dataclasses import dataclass, field

FIELDS = (
    "full_name",
    "first_name",
    "last_name",
    "middle_name",
    "email",
    "phone",
    "company",
    "photo",
    "starts_at",
    "ends_at",
)
NAME_FIELDS = ("full_name", "first_name", "last_name")

# Header text, normalized by ``normalize_header`` (lower case, no spaces or punctuation).
_ALIASES = {
    "full_name": """fullname name fio guest guestname participant visitor person
        фио имяфамилия фамилияимя фамилияимяотчество имяотчествофамилия гость имягостя
        участник посетитель полноеимя""",
    "first_name": "firstname givenname first forename имя",
    "last_name": "lastname surname familyname last фамилия",
    "middle_name": "middlename patronymic secondname отчество",
    "email": """email emailaddress mail почта электроннаяпочта эпочта емейл емэйл имейл
        адресэлектроннойпочты адреспочты""",
    "phone": """phone telephone mobile mobilephone phonenumber tel cell cellphone телефон
        тел мобтелефон мобильныйтелефон мобильный номертелефона контактныйтелефон""",
    "company": """company organization organisation org employer companyname организация
        компания местоработы названиекомпании""",
    "photo": "photo photofile photofilename picture image фото фотография файлфото фотофайл",
    "starts_at": """startsat start starttime startdate arrival arrivaltime from начало
        датаначала времяначала времяприхода приход прибытие времяприбытия датаприбытия с""",
    "ends_at": """endsat end endtime enddate departure departuretime until to окончание
        датаокончания времяокончания времяухода уход отъезд конец по""",
}
ALIASES = {alias: name for name, words in _ALIASES.items() for alias in words.split()}

_PARENTHESES = re.compile(r"\([^)]*\)|\[[^\]]*\]")
_NOT_ALNUM = re.compile(r"[\W_]+")
_POLITE = re.compile(r"^(ваш[аеи]?|your)")

# How many non-empty rows at the top may hold titles and group headers before the real header.
HEADER_SEARCH_ROWS = 10


def normalize_header(text) -> str:
    """Header text without case, spaces, punctuation or hints in parentheses."""
    text = _PARENTHESES.sub("", str(text)).casefold().replace("ё", "е")
    return _NOT_ALNUM.sub("", text)


def match_header(text) -> str | None:
    """The guest field a header names, or None."""
    if text is None:
        return None
    key = normalize_header(text)
    if not key:
        return None
    return ALIASES.get(key) or ALIASES.get(_POLITE.sub("", key))


def header_text(value) -> str:
    """A header cell as the user wrote it (one line, trimmed)."""
    if value is None:
        return ""
    return " ".join(str(value).split())


@dataclass
class ColumnMap:
    """Where each guest field is in the sheet."""

    header_row: int
    headers: list[str]
    # field -> column indexes: the first is the labelled one, the rest are the blank
    # (merged-away) cells to its right.
    columns: dict[str, list[int]] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)

    @property
    def has_name(self):
        return any(name in self.columns for name in NAME_FIELDS)


def map_columns(header_row: int, cells) -> ColumnMap:
    """Map one header row's cells to guest fields."""
    headers = [header_text(cell) for cell in cells]
    result = ColumnMap(header_row, headers)
    current = None
    for index, text in enumerate(headers):
        if not text:
            # A merged header cell leaves its other cells blank: they belong to it.
            if current is not None:
                result.columns[current].append(index)
            continue
        current = None
        name = match_header(text)
        if name is None:
            result.ignored.append(text)
        elif name in result.columns:
            result.duplicates.append(text)
        else:
            result.columns[name] = [index]
            result.labels[name] = text
            current = name
    return result


def _combine(above, below):
    """A two-level header: the lower row's labels, the upper row's where the lower is blank."""
    width = max(len(above), len(below))
    above = list(above) + [None] * (width - len(above))
    below = list(below) + [None] * (width - len(below))
    return [b if header_text(b) else a for a, b in zip(above, below, strict=True)]


def find_header(rows) -> tuple[ColumnMap | None, list]:
    """Pick the header among the first non-empty rows: the one naming most guest fields.

    ``rows`` are (row_number, cells) with blank rows left out. Returns the map (None when no
    row names any field) and the rows after the header that were read while looking.
    """
    best, best_index, previous = None, -1, None
    for index, (number, cells) in enumerate(rows):
        candidates = [map_columns(number, cells)]
        if previous is not None and previous[0] == number - 1:
            candidates.append(map_columns(number, _combine(previous[1], cells)))
        for mapped in candidates:
            if best is None or len(mapped.columns) > len(best.columns):
                best, best_index = mapped, index
        previous = (number, cells)
    if best is None or not best.columns:
        return None, []
    return best, rows[best_index + 1 :]
