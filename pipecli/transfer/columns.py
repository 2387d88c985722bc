"""The file's columns: which header maps to which lead field, which are kept as extra fields, the key.

A header is matched to a field after `norm_header` (lower case, letters and digits only) through
`SYNONYMS`, unless `--map` says otherwise; a header `extra:KEY` is the extra field KEY (as the exporter
writes an extra whose key would read as a field); every other column is kept as an extra field under its
original header. When two columns name one field, the first (or the one `--map` names) wins and the
other is kept as an extra.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from operator import itemgetter

from pipecli.errors import UsageError
from pipecli.formats import undefuse

EXTRA_PREFIX = "extra:"  # a header `extra:KEY` is kept as the extra field KEY (see exporter.extra_header)

# field -> header synonyms in English, Italian, French, Spanish and German, compared after `norm_header`
# (lower case, letters and digits only); each field's tuple is its whole synonym table.
SYNONYMS = {
    "name": (
        "name",
        "fullname",
        "contact",
        "contactname",
        "leadname",
        "person",
        "personname",
        "nome",
        "nominativo",
        "contatto",  # it
        "nom",
        "nomcomplet",  # fr
        "nombre",
        "nombrecompleto",
        "contacto",  # es
        "vollständigername",
        "kontakt",
        "ansprechpartner",  # de
    ),
    "company": (
        "company",
        "account",
        "organization",
        "organisation",
        "companyname",
        "accountname",
        "azienda",
        "societa",
        "società",
        "ragionesociale",  # it
        "société",
        "societe",
        "entreprise",  # fr
        "empresa",
        "compañía",
        "compania",
        "organización",  # es
        "firma",
        "unternehmen",
        "firmenname",  # de
    ),
    "email": ("email", "emailaddress", "mail", "posta", "courriel", "correo", "correoelectrónico", "emailadresse"),
    "phone": (
        "phone",
        "phonenumber",
        "telephone",
        "mobile",
        "tel",
        "telefono",
        "cellulare",
        "téléphone",
        "teléfono",
        "telefon",
        "telefonnummer",
    ),
    "value": (
        "value",
        "amount",
        "dealvalue",
        "closevalue",
        "dealamount",
        "dealsize",
        "valore",
        "importo",  # it
        "montant",
        "valeur",  # fr
        "valor",
        "importe",
        "monto",  # es
        "wert",
        "betrag",  # de
    ),
    "stage": (
        "stage",
        "dealstage",
        "status",
        "pipelinestage",
        "leadstage",
        "fase",
        "stato",  # it, es
        "étape",
        "etape",
        "statut",  # fr
        "etapa",
        "estado",  # es
        "phase",
        "stufe",  # de
    ),
    "pipeline": ("pipeline",),
    "owner": (
        "owner",
        "salesagent",
        "agent",
        "rep",
        "salesrep",
        "salesperson",
        "assignedto",
        "leadowner",
        "dealowner",
        "responsabile",
        "commerciale",
        "propriétaire",
        "responsable",
        "vendedor",
        "propietario",
        "verantwortlicher",
        "vertriebsmitarbeiter",
        "besitzer",
    ),
    "source": ("source", "leadsource", "fonte", "origine", "origen", "fuente", "quelle"),
    "created": (
        "created",
        "createdat",
        "createddate",
        "createdon",
        "datecreated",
        "creationdate",
        "engagedate",
        "datadicreazione",
        "creatoil",
        "datedecréation",
        "créé",
        "créée",
        "fechadecreación",
        "creado",
        "erstelltam",
        "erstellt",
        "erstellungsdatum",
    ),
    "close_date": (
        "closedate",
        "closedat",
        "closeddate",
        "dateclosed",
        "closingdate",
        "datadichiusura",
        "datachiusura",
        "datedeclôture",
        "datedecloture",
        "fechadecierre",
        "abschlussdatum",
    ),
    "expected_close": (
        "expectedclose",
        "expectedclosedate",
        "expectedclosingdate",
        "chiusuraprevista",
        "datadichiusuraprevista",
        "clôtureprévue",
        "datedeclôtureprévue",
        "cierreprevisto",
        "fechadecierreprevista",
        "erwartetesabschlussdatum",
        "voraussichtlicherabschluss",
    ),
    "external_id": ("externalid", "leadid", "dealid", "opportunityid", "crmid"),
    "lost_reason": (
        "lostreason",
        "reasonlost",
        "lossreason",
        "motivodiperdita",
        "motivoperdita",
        "raisondelaperte",
        "motivodepérdida",
        "verlustgrund",
    ),
    "forecast_category": (
        "forecastcategory",
        "forecastcategoryname",  # Salesforce
        "categoriadiprevisione",  # it
        "catégoriedeprévision",  # fr
        "categoríadepronóstico",  # es
        "prognosekategorie",  # de
    ),
    "note": (
        "note",
        "notes",
        "comment",
        "comments",
        "description",
        "nota",
        "commento",
        "commentaire",
        "remarque",
        "notas",
        "comentario",
        "notiz",
        "notizen",
        "bemerkung",
    ),
    "ignore": ("id",),  # pipecli's own id in an export: ids are given by the database imported into
}
FIELDS = tuple(f for f in SYNONYMS if f != "ignore")
KEY_COLUMNS = {"email": "email", "external_id": "external_id", "name": "name", "company": "company", "phone": "phone"}
DATE_FIELDS = ("created", "close_date", "expected_close")


def norm_header(header: str) -> str:
    """Return a header as it is matched to fields: lower case, letters and digits only (accented letters
    kept, as the Italian, French, Spanish and German synonyms spell them)."""
    return re.sub(r"[\W_]", "", header.lower())


def unique_headers(header: list[str]) -> list[str]:
    """Return the header row with every name distinct and non-empty (`column 3`, `Email (2)`), as the
    import reports columns and keys extra fields."""
    seen: dict[str, int] = {}
    out = []
    for i, h in enumerate(header):
        h = h.strip() or f"column {i + 1}"
        if h.lower() in seen:
            seen[h.lower()] += 1
            h = f"{h} ({seen[h.lower()]})"
        seen.setdefault(h.lower(), 1)
        out.append(h)
    return out


class Columns:
    """The mapping of one file's header: each column's field, where each field is, the extras, the key.

    Raises UsageError when `--map` names a column the file lacks or `--key` cannot be a key of this file."""

    def __init__(self, raw_header: list[str], mapping: dict[str, str], key: str | None, label: str):
        self.header = unique_headers(raw_header)
        self.width = len(self.header)
        self.columns = _map_columns(self.header, mapping, label)
        self.index = {f: i for i, (h, f) in enumerate(self.columns) if f in FIELDS}
        self.present = tuple(self.index)
        positions = [self.index[f] for f in self.present]
        self.getter: Callable[[Sequence[str]], tuple[str, ...]]
        if len(positions) == 1:
            single = positions[0]
            self.getter = lambda cells: (cells[single],)
        else:
            self.getter = itemgetter(*positions) if positions else (lambda cells: ())
        self.extra_columns = [
            (i, undefuse(h[len(EXTRA_PREFIX) :] if h.startswith(EXTRA_PREFIX) else h))
            for i, (h, f) in enumerate(self.columns)
            if f == "extra"
        ]
        self.has_extras = bool(self.extra_columns) or "lost_reason" in self.index
        self.key = self._key_field(key)

    def take(self, indexes: set[int], field: str) -> None:
        """Read the columns at `indexes` (kept as extras until now) as `field` instead (`stage date`)."""
        self.columns = [(h, field if i in indexes else f) for i, (h, f) in enumerate(self.columns)]
        self.extra_columns = [(i, h) for i, h in self.extra_columns if i not in indexes]
        self.has_extras = bool(self.extra_columns) or "lost_reason" in self.index

    def column(self, f: str) -> str:
        """Return the header of the column mapped to field `f` ('' when none is)."""
        return self.header[self.index[f]] if f in self.index else ""

    def mapped(self) -> list[dict[str, str]]:
        """Return each column with its field ("ignored" for one the import skips), for the result."""
        return [{"column": h, "field": {"ignore": "ignored"}.get(f, f)} for h, f in self.columns]

    def dates(self, rows: list[list[str]]) -> dict[str, list[str]]:
        """Return the cells of each date column in `rows` (header -> cells), which settle the day order."""
        return {
            self.header[i]: [r[i] for r in rows if len(r) > i]
            for f in DATE_FIELDS
            if f in self.index
            for i in (self.index[f],)
        }

    def _key_field(self, key: str | None) -> str | None:
        if key is None:
            return None
        n = norm_header(key)
        f = key if key in FIELDS else next((f for h, f in self.columns if norm_header(h) == n), None)
        f = {"externalid": "external_id"}.get(n, f)
        if f is None or f not in KEY_COLUMNS:
            raise UsageError(f"--key must be one of {', '.join(KEY_COLUMNS)} (or a column mapped to one), not {key!r}")
        if f not in self.index and not (f == "name" and "external_id" in self.index):
            raise UsageError(f"--key {key}: the file has no column mapped to {f}")
        return f


def _map_columns(header: list[str], mapping: dict[str, str], label: str) -> list[tuple[str, str]]:
    """Return (header, field) for each column: the field, "extra" or "ignore"."""
    synonyms = {s: f for f, names in SYNONYMS.items() for s in names}
    explicit = {norm_header(k): v for k, v in mapping.items()}
    unknown = set(explicit) - {norm_header(h) for h in header}
    if unknown:
        missing = [k for k in mapping if norm_header(k) in unknown]
        raise UsageError(
            f"--map: no column named {', '.join(map(repr, missing))} in {label} (columns: {', '.join(header)})"
        )
    columns: list[tuple[str, str]] = []
    taken: dict[str, tuple[int, str]] = {}
    for h in header:
        n = norm_header(h)
        f = explicit.get(n) or ("extra" if h.startswith(EXTRA_PREFIX) else synonyms.get(n, "extra"))
        if f in FIELDS:
            if f in taken:
                if n in explicit and taken[f][1] not in explicit:
                    columns[taken[f][0]] = (columns[taken[f][0]][0], "extra")
                else:
                    f = "extra"
            if f != "extra":
                taken[f] = (len(columns), n)
        columns.append((h, f))
    return columns
