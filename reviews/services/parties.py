"""Parties of a case: find organisations and providers by name, and add each one at most once."""

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Case as SqlCase
from django.db.models import IntegerField, Value, When

from ..models import Organization, Provider, normalize_name
from ..permissions import require_coordinator

SEARCH_LIMIT = 10
_CREDENTIALS = {"md", "do", "dc", "dpm", "phd", "psyd", "pharmd", "dds", "np", "pa", "facs", "faaos", "qme", "ame"}


def provider_key(name: str) -> str:
    """Matching key of a physician's name: "Dr. Linda Marsh" and "Linda Marsh, MD" are the same person."""
    head, comma, tail = name.partition(",")
    if comma and set(normalize_name(tail).split()) <= _CREDENTIALS:
        name = head
    words = normalize_name(name).split()
    if words[:1] in (["dr"], ["doctor"]):
        words = words[1:]
    return " ".join(words)


def organization_search(*, kind: str, q: str, limit: int = SEARCH_LIMIT) -> list[Organization]:
    """Organisations of `kind` whose normalised name holds every word of `q`: exact match, then prefixes, then A-Z."""
    normalized = normalize_name(q)
    if not normalized:
        return []
    queryset = Organization.objects.filter(kind=kind)
    for word in _search_words(normalized):
        queryset = queryset.filter(normalized_name__contains=word)
    rank = SqlCase(
        When(normalized_name=normalized, then=Value(0)),
        When(normalized_name__startswith=normalized, then=Value(1)),
        default=Value(2),
        output_field=IntegerField(),
    )
    return list(queryset.annotate(rank=rank).order_by("rank", "name")[:limit])


def provider_search(*, q: str, limit: int = SEARCH_LIMIT) -> list[Provider]:
    """Providers whose name holds every word of `q` ("Dr." aside), or whose NPI starts with `q`."""
    queryset = Provider.objects.select_related("specialty", "group")
    digits = q.strip()
    if digits.isdigit():
        return list(queryset.filter(npi__startswith=digits).order_by("name")[:limit])
    words = _search_words(provider_key(q))
    if not words:
        return []
    for word in words:
        queryset = queryset.filter(name__icontains=word)
    return list(queryset.order_by("name")[:limit])


def _same_name(name: str) -> list[Provider]:
    key = provider_key(name)
    if not key:
        return []
    # Narrow by the longest word in SQL, then compare the folded names here. A name stored with
    # accents ("Núñez") is not found by its plain spelling; it is then added once more, by name only.
    longest = max(key.split(), key=len)
    return [p for p in Provider.objects.filter(name__icontains=longest) if provider_key(p.name) == key]


def provider_match(*, name: str, npi: str = "") -> Provider | None:
    """The provider on file meant by `name` (and `npi` when given), or None when there is none.

    With an NPI: the provider holding it, or else the one namesake without an NPI. Without an
    NPI: the one provider of that name. Raises ValidationError on "npi" when the NPI belongs to
    someone of another name, and on "name" when several providers share the name and no NPI
    tells them apart.
    """
    if npi:
        holder = Provider.objects.filter(npi=npi).first()
        if holder is not None:
            if provider_key(holder.name) != provider_key(name):
                raise ValidationError({"npi": f"NPI {npi} belongs to {holder.name}."})
            return holder
        namesakes = [p for p in _same_name(name) if not p.npi]
        return namesakes[0] if len(namesakes) == 1 else None
    namesakes = _same_name(name)
    if len(namesakes) > 1:
        raise ValidationError(
            {"name": f"{len(namesakes)} providers on file are named {namesakes[0].name}: give the NPI to pick one."}
        )
    return namesakes[0] if namesakes else None


@transaction.atomic
def organization_get_or_create(*, kind: str, name: str, by: AbstractBaseUser) -> Organization:
    """The organisation of `kind` whose normalised name is that of `name`; added when there is none.

    "ACME, Inc." finds "Acme Inc", never a second Acme. Raises PermissionDenied unless `by` is a
    coordinator and ValidationError (on "name") when the name has no letter or digit or is too long.
    """
    require_coordinator(by)
    organization = Organization(kind=kind, name=" ".join(name.split()))
    organization.full_clean(exclude=["normalized_name"], validate_unique=False, validate_constraints=False)
    # get_or_create survives a concurrent intake adding the same name: the unique (kind,
    # normalized_name) constraint makes one insert fail, and get_or_create then reads the winner.
    organization, _ = Organization.objects.get_or_create(
        kind=kind, normalized_name=normalize_name(organization.name), defaults={"name": organization.name}
    )
    return organization


@transaction.atomic
def provider_get_or_create(*, name: str, npi: str = "", by: AbstractBaseUser) -> Provider:
    """The provider meant by `name` and `npi` (see provider_match); added when there is none.

    A namesake on file without an NPI is given the NPI rather than duplicated. Raises
    PermissionDenied unless `by` is a coordinator, and ValidationError when provider_match does
    or the new provider is invalid (an NPI that is not ten digits).
    """
    require_coordinator(by)
    name, npi = " ".join(name.split()), npi.strip()
    provider = provider_match(name=name, npi=npi)
    if provider is not None:
        if npi and not provider.npi:
            provider.npi = npi
            provider.full_clean()
            provider.save(update_fields=["npi"])
        return provider
    provider = Provider(name=name, npi=npi)
    provider.full_clean(validate_unique=False, validate_constraints=False)
    try:
        with transaction.atomic():
            provider.save()
    except IntegrityError:
        # Another intake added this NPI a moment ago: use theirs (the unique NPI constraint decided).
        if not npi:
            raise
        return Provider.objects.get(npi=npi)
    return provider


# Words of a search that reach SQL, each one a LIKE: a name is found by its first few words, and a
# pasted paragraph must not become a query deeper than the database parses (SQLite: 1000).
SEARCH_WORDS = 8


def _search_words(text: str) -> list[str]:
    return list(dict.fromkeys(text.split()))[:SEARCH_WORDS]
