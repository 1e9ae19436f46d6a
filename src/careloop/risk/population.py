"""Population risk, set-based: read the registry columns in bulk, compute with polars, return one frame.

Filters are built with the ORM (so dates and datetimes are adapted per backend) and run as raw SQL read in
chunks into polars frames; every per-code lookup (CCW, Charlson, HCC relevance) is done once per distinct code
and joined; CMS-HCC is called once per distinct (HCC codes, age, sex, dual, OREC) profile. No per-patient ORM.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
from django.conf import settings
from django.db import connection
from django.db.models import Count, F, Q, QuerySet, Value
from django.db.models.functions import Coalesce, NullIf

from careloop.registry.models import Condition, Coverage, Encounter, Medication, Observation, Patient
from careloop.risk import hcc, rules, tables

CHUNK = 100_000
ID_CHUNK = 5_000
_EARLY = dt.date(1900, 1, 1)


def _frame(qs: QuerySet[Any, Any], schema: dict[str, Any]) -> pl.DataFrame:
    """Run a values_list queryset as raw SQL, fetching in chunks straight into polars."""
    sql, params = qs.query.sql_with_params()
    parts: list[pl.DataFrame] = []
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(CHUNK):
            parts.append(pl.DataFrame(rows, schema=schema, orient="row"))
    if not parts:
        return pl.DataFrame(schema=schema)
    return pl.concat(parts, rechunk=True)


def _read(
    qs: QuerySet[Any, Any], schema: dict[str, Any], patient_ids: Sequence[int] | None, field: str = "patient_id"
) -> pl.DataFrame:
    if patient_ids is None:
        return _frame(qs, schema)
    parts = [
        _frame(qs.filter(**{f"{field}__in": patient_ids[i : i + ID_CHUNK]}), schema)
        for i in range(0, len(patient_ids), ID_CHUNK)
    ]
    return pl.concat(parts) if parts else pl.DataFrame(schema=schema)


def _dates(df: pl.DataFrame, *cols: str) -> pl.DataFrame:
    """Datetime columns (naive UTC on SQLite, aware on PostgreSQL) to UTC calendar dates."""
    out = []
    for c in cols:
        dtype = df.schema[c]
        if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None:
            out.append(pl.col(c).dt.convert_time_zone("UTC").dt.date().alias(c))
        elif isinstance(dtype, pl.Datetime):
            out.append(pl.col(c).dt.date().alias(c))
    return df.with_columns(out) if out else df


def day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=ZoneInfo(settings.TIME_ZONE))


def in_force_q(as_of: dt.date, cfg: tables.CountConfig) -> Q:
    """rules.in_force as a query filter (the two are tested against each other)."""
    started = Q(onset__lte=as_of) | Q(onset__isnull=True, recorded__lte=as_of) | Q(onset__isnull=True, recorded=None)
    live = Q(abatement__gte=as_of) | Q(abatement__isnull=True, clinical_status__in=sorted(cfg.active_statuses))
    return started & live & ~Q(verification_status__in=sorted(cfg.excluded_verification))


@dataclass(frozen=True)
class CodeMaps:
    ccw: pl.DataFrame  # code, key, weak
    excluded: pl.DataFrame  # code, key
    charlson: pl.DataFrame  # code, cat
    flags: pl.DataFrame  # code, bh, hcc


def code_maps(codes: Sequence[str]) -> CodeMaps:
    table = tables.ccw_table()
    ccw_rows: list[tuple[str, str, bool]] = []
    exc_rows: list[tuple[str, str]] = []
    ch_rows: list[tuple[str, str]] = []
    flag_rows: list[tuple[str, bool, bool]] = []
    ch = tables.charlson_table()
    for code in codes:
        for key in table.keys_for(code):
            weak = (
                code.startswith(table.conditions[key].needs_second_code)
                if table.conditions[key].needs_second_code
                else False
            )
            ccw_rows.append((code, key, weak))
        exc_rows += [(code, key) for key in table.excluded_by(code)]
        ch_rows += [(code, cat) for cat in ch.categories_for(code)]
        flag_rows.append((code, rules.is_bh_diagnosis(code), bool(hcc.hcc_codes([code]))))
    return CodeMaps(
        ccw=pl.DataFrame(ccw_rows, schema={"code": pl.String, "key": pl.String, "weak": pl.Boolean}, orient="row"),
        excluded=pl.DataFrame(exc_rows, schema={"code": pl.String, "key": pl.String}, orient="row"),
        charlson=pl.DataFrame(ch_rows, schema={"code": pl.String, "cat": pl.String}, orient="row"),
        flags=pl.DataFrame(flag_rows, schema={"code": pl.String, "bh": pl.Boolean, "hcc": pl.Boolean}, orient="row"),
    )


def read_patients(org: int, patient_ids: Sequence[int] | None) -> pl.DataFrame:
    qs = Patient.objects.filter(organization_id=org, active=True, deceased=False, deceased_at__isnull=True)
    return _read(
        qs.values_list("id", "birth_date", "sex"),
        {"pid": pl.Int64, "birth_date": pl.Date, "sex": pl.String},
        patient_ids,
        field="id",
    )


def condition_measures(org: int, as_of: dt.date, ids: Sequence[int] | None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Per patient: CCW keys, chronic count, Charlson; and the (pid, code) pairs that feed CMS-HCC."""
    cfg = tables.count_config()
    qs = Condition.objects.filter(in_force_q(as_of, cfg), organization_id=org).values_list(
        "patient_id", "icd10", "snomed"
    )
    rows = _read(qs.distinct(), {"pid": pl.Int64, "icd10": pl.String, "snomed": pl.String}, ids)
    rows = rows.with_columns(
        pl.col("icd10").str.replace_all(r"[.\s]", "").str.to_uppercase().alias("code"),
        pl.col("snomed").str.strip_chars(),
    )
    icd = rows.filter(pl.col("code") != "").select("pid", "code").unique()
    maps = code_maps(icd.get_column("code").unique().to_list())
    # CCW from ICD-10-CM, then exclusions and second-code rules at patient level.
    hits = icd.join(maps.ccw, on="code")
    excluded = icd.join(maps.excluded, on="code").select("pid", "key").unique()
    icd_keys = (
        hits.group_by("pid", "key")
        .agg(pl.col("weak").all().alias("weak_only"))
        .filter(~pl.col("weak_only"))
        .select("pid", "key")
        .join(excluded, on=["pid", "key"], how="anti")
    )
    smap = tables.snomed_map()
    sn_map = pl.DataFrame(
        [(c, k) for c, ks in smap.items() for k in ks], schema={"snomed": pl.String, "key": pl.String}, orient="row"
    )
    sn_keys = rows.filter((pl.col("code") == "") & (pl.col("snomed") != "")).join(sn_map, on="snomed")
    keys = pl.concat([icd_keys, sn_keys.select("pid", "key")]).unique()
    counted = pl.DataFrame(
        [(k, cfg.groups.get(k, k)) for k in tables.ccw_table().conditions if k not in cfg.not_counted],
        schema={"key": pl.String, "count_as": pl.String},
        orient="row",
    )
    ccw = (
        keys.join(counted, on="key", how="left")
        .group_by("pid")
        .agg(
            pl.col("key").sort().alias("ccw_categories"),
            pl.col("count_as").drop_nulls().unique().sort().alias("chronic_conditions"),
        )
    )
    ccw = ccw.with_columns(pl.col("chronic_conditions").list.len().cast(pl.Int64).alias("chronic_count"))
    # Charlson: categories present, hierarchy zeroes the lower one for scoring, two weightings.
    ch = tables.charlson_table()
    present = icd.join(maps.charlson, on="code").select("pid", "cat").unique()
    hier = pl.DataFrame(list(ch.replaces.items()), schema={"upper": pl.String, "lower": pl.String}, orient="row")
    dropped = present.join(hier, left_on="cat", right_on="upper").select("pid", pl.col("lower").alias("cat"))
    weights = pl.DataFrame(
        [(c, ch.weights["charlson"][c], ch.weights["quan"][c]) for c in ch.labels],
        schema={"cat": pl.String, "w_charlson": pl.Int64, "w_quan": pl.Int64},
        orient="row",
    )
    scored = present.join(dropped, on=["pid", "cat"], how="anti").join(weights, on="cat")
    charlson = (
        present.group_by("pid")
        .agg(pl.col("cat").sort().alias("charlson_categories"))
        .join(
            scored.group_by("pid").agg(
                pl.col("w_charlson").sum().alias("charlson"), pl.col("w_quan").sum().alias("charlson_quan")
            ),
            on="pid",
            how="left",
        )
    )
    bh_keys = sorted(tables.signals().bh_snomed_ccw)
    bh = (
        pl.concat(
            [
                icd.join(maps.flags.filter("bh"), on="code").select("pid"),
                sn_keys.filter(pl.col("key").is_in(bh_keys)).select("pid"),
            ]
        )
        .unique()
        .with_columns(pl.lit(True).alias("bh_dx"))
    )
    per_patient = ccw.join(charlson, on="pid", how="full", coalesce=True).join(bh, on="pid", how="full", coalesce=True)
    hcc_pairs = icd.join(maps.flags.filter("hcc"), on="code").select("pid", "code")
    return per_patient, hcc_pairs


def encounter_measures(org: int, as_of: dt.date, ids: Sequence[int] | None) -> pl.DataFrame:
    sig = tables.signals()
    window_start = as_of - dt.timedelta(days=sig.window_days)
    classes = [*sig.ed_classes, *sig.inpatient_classes]
    qs = Encounter.objects.filter(
        organization_id=org,
        class_code__in=classes,
        start__gte=day_start(window_start - dt.timedelta(days=sig.readmission_days)),
        start__lt=day_start(as_of + dt.timedelta(days=1)),
    ).exclude(status__in=sig.excluded_encounter_status)
    enc = _read(
        qs.values_list("patient_id", "class_code", "start", "end"),
        {"pid": pl.Int64, "cls": pl.String, "start": pl.Datetime("us", "UTC"), "end": pl.Datetime("us", "UTC")},
        ids,
    )
    enc = _dates(enc, "start", "end")
    in_window = pl.col("start") >= window_start
    ed = enc.filter(pl.col("cls").is_in(sig.ed_classes) & in_window).group_by("pid").len("ed_visits_12m")
    ip = enc.filter(pl.col("cls").is_in(sig.inpatient_classes)).sort("pid", "start")
    ip = ip.with_columns(
        pl.col("end").fill_null(_EARLY).cum_max().shift(1).over("pid").alias("prev_end"),
    ).with_columns(
        ((pl.col("start") - pl.col("prev_end")).dt.total_days().is_between(0, sig.readmission_days) & in_window)
        .fill_null(False)
        .alias("readmit")
    )
    stays = ip.group_by("pid").agg(
        in_window.sum().alias("admissions_12m"), pl.col("readmit").sum().alias("readmissions_12m")
    )
    return ed.join(stays, on="pid", how="full", coalesce=True)


def medication_counts(org: int, as_of: dt.date, ids: Sequence[int] | None) -> pl.DataFrame:
    sig = tables.signals()
    qs = (
        Medication.objects.filter(organization_id=org, status__in=sig.active_medication_status)
        .filter(Q(end__isnull=True) | Q(end__gte=as_of))
        .annotate(drug=Coalesce(NullIf(F("rxnorm"), Value("")), F("display")))
        .values("patient_id")
        .annotate(n=Count("drug", distinct=True))
        .values_list("patient_id", "n")
    )
    return _read(qs, {"pid": pl.Int64, "active_medications": pl.Int64}, ids)


def screening_signals(org: int, as_of: dt.date, ids: Sequence[int] | None) -> pl.DataFrame:
    """Latest answer per (patient, question) in the look-back window, turned into needs and BH flags."""
    sig = tables.signals()
    qs = Observation.objects.filter(
        organization_id=org,
        code__in=sig.screening_codes,
        effective_at__gte=day_start(as_of - dt.timedelta(days=sig.lookback_days)),
        effective_at__lt=day_start(as_of + dt.timedelta(days=1)),
    ).exclude(status__in=["entered-in-error", "cancelled"])
    obs = _read(
        qs.values_list("patient_id", "code", "effective_at", "value_num", "value_code", "value_text"),
        {
            "pid": pl.Int64,
            "code": pl.String,
            "at": pl.Datetime("us", "UTC"),
            "num": pl.Float64,
            "vcode": pl.String,
            "vtext": pl.String,
        },
        ids,
    )
    latest = obs.sort("at", descending=True).group_by("pid", "code").first()
    flags = []
    for q in sig.sdoh:
        positive = pl.col("vcode").is_in(sorted(q.positive_codes)) | pl.col(
            "vtext"
        ).str.strip_chars().str.to_lowercase().is_in(sorted(q.positive_text))
        flags.append(
            latest.filter(pl.col("code").is_in(q.loinc) & positive).select("pid", pl.lit(q.label).alias("need"))
        )
    needs = pl.concat(flags).unique() if flags else pl.DataFrame(schema={"pid": pl.Int64, "need": pl.String})
    order = {q.label: i for i, q in enumerate(sig.sdoh)}
    needs = needs.with_columns(pl.col("need").replace_strict(order, return_dtype=pl.Int64).alias("o")).sort("o")
    screens = [
        latest.filter(pl.col("code").is_in(s.loinc) & (pl.col("num") >= s.min_score)).select(
            "pid", (pl.lit(f"{s.label} ") + pl.col("num").round(0).cast(pl.Int64).cast(pl.String)).alias("flag")
        )
        for s in sig.bh_screens
    ]
    bh = pl.concat(screens).group_by("pid", maintain_order=True).agg(pl.col("flag").alias("bh_screens"))
    return (
        needs.group_by("pid", maintain_order=True)
        .agg(pl.col("need").alias("sdoh_needs"))
        .join(bh, on="pid", how="full", coalesce=True)
    )


def dual_codes(org: int, as_of: dt.date, ids: Sequence[int] | None) -> pl.DataFrame:
    qs = (
        Coverage.objects.filter(organization_id=org, kind__in=["qmb", "slmb", "full-dual", "medicaid"])
        .filter(Q(start__isnull=True) | Q(start__lte=as_of), Q(end__isnull=True) | Q(end__gte=as_of))
        .exclude(status__in=["cancelled", "entered-in-error"])
        .values_list("patient_id", "kind")
    )
    cov = _read(qs.distinct(), {"pid": pl.Int64, "kind": pl.String}, ids)
    per = cov.group_by("pid").agg(pl.col("kind").unique().sort())
    combos = {tuple(k): hcc.dual_from_coverage(k) for k in per.get_column("kind").to_list()}
    return per.with_columns(
        pl.col("kind").map_elements(lambda k: combos[tuple(k)], return_dtype=pl.String).alias("dual")
    ).select("pid", "dual")


def age_expr(as_of: dt.date) -> pl.Expr:
    b = pl.col("birth_date")
    before_birthday = (b.dt.month().cast(pl.Int32) * 100 + b.dt.day().cast(pl.Int32)) > (as_of.month * 100 + as_of.day)
    return (pl.lit(as_of.year) - b.dt.year() - before_birthday.cast(pl.Int32)).cast(pl.Int64)


def hcc_scores(base: pl.DataFrame, pairs: pl.DataFrame) -> pl.DataFrame:
    """CMS-HCC per patient, one hccinfhir call per distinct profile (memoised in careloop.risk.hcc)."""
    codes = pairs.group_by("pid").agg(pl.col("code").unique().sort().alias("hcc_codes"))
    prof = base.join(codes, on="pid", how="left").with_columns(pl.col("hcc_codes").fill_null([]))
    prof = prof.filter(pl.col("age").is_not_null() & pl.col("hsex").is_not_null())
    keys = prof.select("hcc_codes", "age", "hsex", "dual").unique()
    out: list[tuple[Any, ...]] = []
    for codes_, age, sex, dual in keys.iter_rows():
        r = hcc.score(codes_, age=age, sex=sex, dual=dual)
        ranked = sorted(r.hccs, key=lambda h: -r.coefficients.get(h, 0.0))  # highest weight first
        out.append((codes_, age, sex, dual, r.risk_score, ranked, r.segment))
    results = pl.DataFrame(
        out,
        schema={
            "hcc_codes": pl.List(pl.String),
            "age": pl.Int64,
            "hsex": pl.String,
            "dual": pl.String,
            "hcc_score": pl.Float64,
            "hccs": pl.List(pl.String),
            "hcc_segment": pl.String,
        },
        orient="row",
    )
    return prof.join(results, on=["hcc_codes", "age", "hsex", "dual"], how="left", nulls_equal=True).select(
        "pid", "hcc_score", "hccs", "hcc_segment"
    )


def compute(org: int, as_of: dt.date, patient_ids: Sequence[int] | None = None) -> pl.DataFrame:
    """Every measure the tier needs, one row per active patient (``patient_ids`` limits the set)."""
    patients = read_patients(org, patient_ids)
    ids = None if patient_ids is None else patient_ids
    sex_map = {"male": "M", "m": "M", "female": "F", "f": "F"}
    base = (
        patients.with_columns(
            age_expr(as_of).alias("age"),
            pl.col("sex")
            .str.to_lowercase()
            .replace_strict(sex_map, default=None, return_dtype=pl.String)
            .alias("hsex"),
        )
        .join(dual_codes(org, as_of, ids), on="pid", how="left")
        .with_columns(pl.col("dual").fill_null("00"))
    )
    conditions, pairs = condition_measures(org, as_of, ids)
    frame = (
        base.join(conditions, on="pid", how="left")
        .join(hcc_scores(base, pairs), on="pid", how="left")
        .join(encounter_measures(org, as_of, ids), on="pid", how="left")
        .join(medication_counts(org, as_of, ids), on="pid", how="left")
        .join(screening_signals(org, as_of, ids), on="pid", how="left")
    )
    ints = [
        "chronic_count",
        "charlson",
        "charlson_quan",
        "ed_visits_12m",
        "admissions_12m",
        "readmissions_12m",
        "active_medications",
    ]
    lists = ["ccw_categories", "chronic_conditions", "charlson_categories", "hccs", "sdoh_needs", "bh_screens"]
    return frame.with_columns(
        *(pl.col(c).fill_null(0).cast(pl.Int64) for c in ints),
        *(pl.col(c).fill_null([]) for c in lists),
        pl.col("bh_dx").fill_null(False),
        pl.col("hcc_segment").fill_null(""),
    ).sort("pid")


def iter_batches(frame: pl.DataFrame, size: int) -> Iterator[pl.DataFrame]:
    for offset in range(0, frame.height, size):
        yield frame.slice(offset, size)
