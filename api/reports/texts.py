"""Swedish and English words of the summaries, and how numbers are written in each.

Numbers keep the API's digits: ``num(336.0, 1, "sv")`` is "336,0" (decimal comma in Swedish
text), "336.0" in English. Texts use only characters of WinAnsi (Helvetica in the PDF): å ä ö
² ± – are in it; a subscript ₂ and the minus sign U+2212 are not, so CO2 is written plainly
in charts and "-" is the minus.
"""

from __future__ import annotations

LANGS = ("sv", "en")
MISSING = "–"  # shown where a figure is not known

TEXTS: dict[str, dict[str, str]] = {
    "sv": {
        "report_site": "Energibesparing – {name}",
        "report_competition": "Sammanfattning – {name}",
        "period": "Tävlingsperiod {start} – {end}. Läget {as_of} ({hours} timmar har gått).",
        "synthetic": "OBS: simulerade data (demo), inte verkliga mätvärden.",
        "headline": "Resultat hittills",
        "saved_kwh": "Sparad energi",
        "reduction_pct": "Minskning",
        "kwh_per_m2": "Energi per m²",
        "saved_money": "Sparade pengar",
        "saved_co2": "Undviken CO2",
        "actual_kwh": "Förbrukning",
        "baseline_kwh": "Baslinje",
        "target": "Mål",
        "target_progress": "Andel av målet",
        "rank": "Placering",
        "rank_of": "{rank} av {n}",
        "rank_kwh_per_m2": "Placering kWh/m²",
        "not_ranked": "ej rankad",
        "completeness": "Fullständighet",
        "hours_matched": "Timmar med data",
        "uncertainty": "± {pct} procentenheter (± {kwh} kWh) med {conf} % konfidens",
        "uncertainty_sum": "byggnadernas osäkerheter sammanlagda i kvadrat",
        "significant": "besparingen är statistiskt säkerställd",
        "not_significant": "inte statistiskt säkerställd: besparingen är mindre än osäkerheten",
        "no_uncertainty": "osäkerheten kan inte beräknas ännu",
        "no_data": (
            "Inga mätvärden har kommit in för {name} under tävlingsperioden. "
            "Kontrollera mätaren ({meters}) och dess anslutning; siffrorna nedan saknas därför."
        ),
        "partial_data": (
            "Data saknas: bara {pct} % av de timmar som gått har både mätvärden och baslinje "
            "({hours} av {elapsed}). Minst {min} % krävs för att rankas."
        ),
        "partial_data_ok": (
            "{pct} % av de timmar som gått har mätvärden och baslinje ({hours} av {elapsed})."
        ),
        "not_started": (
            "Tävlingen har inte börjat: den börjar {start}. Siffrorna fylls i när de första "
            "timmarna har gått."
        ),
        "no_baseline_problem": (
            "Baslinje saknas, så ingen besparing kan räknas: {problems}. Ladda upp historik "
            "(till exempel elräkningar för året före tävlingen) eller byt baslinjemetod."
        ),
        "problem_no_history": "det finns inga mätvärden från baslinjeperioden",
        "problem_no_bills_before_the_start": "inga elräkningar från före tävlingen",
        "problem_last_bill_ends_too_long_before_the_start": (
            "den senaste elräkningen slutar för långt före tävlingen"
        ),
        "problem_incorrect_number_of_total_days": "elräkningarna täcker inte ett helt år",
        "problem_too_few_billing_periods": "för få elräkningar",
        "problem_too_few_days_to_fit": "för få dagar med data för att anpassa modellen",
        "email_not_started": (
            "Tävlingen börjar {start}. Den första lägesrapporten kommer efter vecka {week}."
        ),
        "email_subject_not_started": "Lägesrapport: {name} (tävlingen har inte börjat)",
        "charts": "Diagram",
        "chart_daily": "Förbrukning mot baslinje per dag (kWh)",
        "chart_weekly": "Förbrukning mot baslinje per vecka (kWh)",
        "chart_base_load": "Grundlast natt och helg, före och under tävlingen (kW)",
        "chart_rank": "Placering dag för dag (1 = bäst)",
        "legend_actual": "Förbrukning",
        "legend_baseline": "Baslinje",
        "legend_before": "Före (baslinje)",
        "legend_during": "Under tävlingen",
        "night": "Natt (vardagar 00–05)",
        "night_short": "Natt",
        "weekend": "Helg",
        "night_base_kw": "Grundlast natt (vardagar 00–05)",
        "weekend_base_kw": "Grundlast helg (lör, sön, helgdagar)",
        "after_hours_share": "Andel utanför arbetstid",
        "no_chart_data": "Inga data att visa ännu.",
        "actions": "Åtgärder och deras uppmätta effekt",
        "no_actions": "Inga åtgärder har antecknats.",
        "action_effect": (
            "förbrukning/baslinje {before} % före, {after} % efter: {change} procentenheter"
        ),
        "action_effect_unknown": "effekten kan inte mätas ännu (för få timmar före eller efter)",
        "method": "Så byggdes baslinjen",
        "method_name": "Metod",
        "baseline_period": "Baslinjeperiod",
        "holidays": "Helgdagar i tävlingsperioden",
        "holidays_none": "inga",
        "holiday_calendar": "Helgdagskalender",
        "min_completeness": "Krav för rankning",
        "confidence": "Konfidensnivå",
        "price": "Pris",
        "co2_factor": "Emissionsfaktor",
        "method_notes": (
            "Minskningen räknas över timmar med både mätvärden och baslinje. Osäkerheten följer "
            "ASHRAE Guideline 14 från baslinjens avvikelser dag för dag."
        ),
        "leaderboard": "Tabell",
        "totals": "Hela tävlingen",
        "sites_with_data": "Byggnader med data",
        "site": "Byggnad",
        "municipality": "Kommun",
        "area_m2": "Yta (m²)",
        "daily": "Dagsvärden",
        "date": "Datum",
        "hours": "Timmar",
        "hours_measured": "Timmar med mätvärden",
        "hours_baseline": "Timmar med baslinje",
        "week": "Vecka",
        "week_n": "vecka {n}",
        "part": " (del)",
        "significant_col": "Säkerställd",
        "eligible": "Rankad",
        "baseline_fingerprint": "Baslinjens fingeravtryck (SHA-256)",
        "fingerprint_note": (
            "Fingeravtrycket är en SHA-256 av det som baslinjen byggdes på (metod, parametrar, "
            "historikens timvärden och vilka timmar som mättes, räkningar och temperaturer där "
            "metoden läser dem). Det ändras bara när de låsta uppgifterna ändras."
        ),
        "yes": "ja",
        "no": "nej",
        "as_of": "Läge",
        "parameter": "Parameter",
        "value": "Värde",
        "competition": "Tävling",
        "sheet_totals": "Summering",
        "sheet_daily": "Dagsvärden",
        "sheet_method": "Metod",
        # weekly status e-mail (lägesrapport)
        "email_subject": "Lägesrapport vecka {week}: {name}",
        "email_intro": "Så här gick det för {name} vecka {week} ({first} – {last}).",
        "email_this_week": "Denna vecka",
        "email_last_week": "Förra veckan",
        "email_change": "Jämfört med förra veckan",
        "email_better": "{pp} procentenheter bättre än förra veckan",
        "email_worse": "{pp} procentenheter sämre än förra veckan",
        "email_same": "samma som förra veckan",
        "email_no_last_week": "Förra veckan ingick inte i tävlingen.",
        "email_target_met": "Målet {target} % är nått denna vecka.",
        "email_target_missed": "Målet är {target} %: {gap} procentenheter kvar denna vecka.",
        "email_no_target": "Inget mål är satt.",
        "email_no_target_short": "inget satt",
        "email_so_far": "Hittills i tävlingen",
        "email_partial_week": "Veckan pågår: siffrorna gäller fram till {as_of}.",
        "email_no_data": (
            "Inga mätvärden har kommit in för {name} denna vecka. Kontrollera mätaren."
        ),
        "email_hours": "{hours} av {total}",
        "email_actions": "Åtgärder denna vecka",
        "email_footer": "Tack för att ni hjälper till att spara energi! / Watt League",
    },
    "en": {
        "report_site": "Energy savings – {name}",
        "report_competition": "Summary – {name}",
        "period": "Competition period {start} – {end}. Status at {as_of} ({hours} hours elapsed).",
        "synthetic": "NOTE: simulated data (demo), not real meter readings.",
        "headline": "Results so far",
        "saved_kwh": "Energy saved",
        "reduction_pct": "Reduction",
        "kwh_per_m2": "Energy per m²",
        "saved_money": "Money saved",
        "saved_co2": "CO2 avoided",
        "actual_kwh": "Consumption",
        "baseline_kwh": "Baseline",
        "target": "Target",
        "target_progress": "Share of target",
        "rank": "Rank",
        "rank_of": "{rank} of {n}",
        "rank_kwh_per_m2": "Rank kWh/m²",
        "not_ranked": "not ranked",
        "completeness": "Completeness",
        "hours_matched": "Hours with data",
        "uncertainty": "± {pct} percentage points (± {kwh} kWh) at {conf} % confidence",
        "uncertainty_sum": "the sites' uncertainties added in quadrature",
        "significant": "the saving is statistically significant",
        "not_significant": "not significant: the saving is smaller than the uncertainty",
        "no_uncertainty": "the uncertainty cannot be computed yet",
        "no_data": (
            "No meter readings have arrived for {name} during the competition period. "
            "Check the meter ({meters}) and its connection; the figures below are missing."
        ),
        "partial_data": (
            "Data missing: only {pct} % of the elapsed hours have both readings and a baseline "
            "({hours} of {elapsed}). Ranking needs at least {min} %."
        ),
        "partial_data_ok": (
            "{pct} % of the elapsed hours have readings and a baseline ({hours} of {elapsed})."
        ),
        "not_started": (
            "The competition has not started: it begins on {start}. The figures fill in once "
            "the first hours have passed."
        ),
        "no_baseline_problem": (
            "No baseline, so no saving can be computed: {problems}. Upload history (for "
            "example the bills of the year before the competition) or choose another baseline "
            "method."
        ),
        "problem_no_history": "there are no readings from the baseline period",
        "problem_no_bills_before_the_start": "no bills from before the competition",
        "problem_last_bill_ends_too_long_before_the_start": (
            "the last bill ends too long before the competition"
        ),
        "problem_incorrect_number_of_total_days": "the bills do not cover a whole year",
        "problem_too_few_billing_periods": "too few bills",
        "problem_too_few_days_to_fit": "too few days with data to fit the model",
        "email_not_started": (
            "The competition begins on {start}. The first status report follows week {week}."
        ),
        "email_subject_not_started": "Status report: {name} (the competition has not started)",
        "charts": "Charts",
        "chart_daily": "Consumption against baseline by day (kWh)",
        "chart_weekly": "Consumption against baseline by week (kWh)",
        "chart_base_load": "Night and weekend base load, before and during the competition (kW)",
        "chart_rank": "Rank day by day (1 = best)",
        "legend_actual": "Consumption",
        "legend_baseline": "Baseline",
        "legend_before": "Before (baseline)",
        "legend_during": "During the competition",
        "night": "Night (working days 00–05)",
        "night_short": "Night",
        "weekend": "Weekend",
        "night_base_kw": "Night base load (working days 00–05)",
        "weekend_base_kw": "Weekend base load (Sat, Sun, holidays)",
        "after_hours_share": "Share outside working hours",
        "no_chart_data": "No data to show yet.",
        "actions": "Actions and their measured effect",
        "no_actions": "No actions have been annotated.",
        "action_effect": (
            "consumption/baseline {before} % before, {after} % after: {change} percentage points"
        ),
        "action_effect_unknown": (
            "the effect cannot be measured yet (too few hours before or after)"
        ),
        "method": "How the baseline was built",
        "method_name": "Method",
        "baseline_period": "Baseline period",
        "holidays": "Public holidays in the competition period",
        "holidays_none": "none",
        "holiday_calendar": "Holiday calendar",
        "min_completeness": "Needed to be ranked",
        "confidence": "Confidence level",
        "price": "Price",
        "co2_factor": "Emission factor",
        "method_notes": (
            "The reduction counts the hours with both readings and a baseline. The uncertainty "
            "follows ASHRAE Guideline 14 from the baseline's day-by-day deviations."
        ),
        "leaderboard": "Leaderboard",
        "totals": "Whole competition",
        "sites_with_data": "Buildings with data",
        "site": "Building",
        "municipality": "Municipality",
        "area_m2": "Area (m²)",
        "daily": "Daily values",
        "date": "Date",
        "hours": "Hours",
        "hours_measured": "Hours with readings",
        "hours_baseline": "Hours with baseline",
        "week": "Week",
        "week_n": "week {n}",
        "part": " (part)",
        "significant_col": "Significant",
        "eligible": "Ranked",
        "baseline_fingerprint": "Baseline fingerprint (SHA-256)",
        "fingerprint_note": (
            "The fingerprint is a SHA-256 of what the baseline was built on (method, parameters, "
            "the history's hourly values and which hours were measured, bills and temperatures "
            "where the method reads them). It changes only when that locked data changes."
        ),
        "yes": "yes",
        "no": "no",
        "as_of": "Status at",
        "parameter": "Parameter",
        "value": "Value",
        "competition": "Competition",
        "sheet_totals": "Totals",
        "sheet_daily": "Daily",
        "sheet_method": "Method",
        "email_subject": "Status report week {week}: {name}",
        "email_intro": "This is how {name} did in week {week} ({first} – {last}).",
        "email_this_week": "This week",
        "email_last_week": "Last week",
        "email_change": "Compared with last week",
        "email_better": "{pp} percentage points better than last week",
        "email_worse": "{pp} percentage points worse than last week",
        "email_same": "the same as last week",
        "email_no_last_week": "Last week was not part of the competition.",
        "email_target_met": "The {target} % target is met this week.",
        "email_target_missed": "The target is {target} %: {gap} percentage points to go this week.",
        "email_no_target": "No target is set.",
        "email_no_target_short": "none set",
        "email_so_far": "So far in the competition",
        "email_partial_week": "The week is under way: figures up to {as_of}.",
        "email_no_data": "No meter readings have arrived for {name} this week. Check the meter.",
        "email_hours": "{hours} of {total}",
        "email_actions": "Actions this week",
        "email_footer": "Thank you for helping to save energy! / Watt League",
    },
}


def t(lang: str, key: str, **values: object) -> str:
    """The text ``key`` in ``lang`` with ``values`` filled in."""
    text = TEXTS[lang][key]
    return text.format(**values) if values else text


def num(value: float | int | None, digits: int, lang: str) -> str:
    """``value`` with ``digits`` decimals as the API rounds it; decimal comma in Swedish."""
    if value is None:
        return MISSING
    text = f"{value:.{digits}f}"
    return text.replace(".", ",") if lang == "sv" else text


def with_unit(value: float | int | None, digits: int, unit: str, lang: str) -> str:
    """``num`` followed by ``unit``; only the dash when the value is not known."""
    return MISSING if value is None else f"{num(value, digits, lang)} {unit}"


def problem_text(lang: str, codes: list[str]) -> str:
    """Readable reasons for a missing baseline (the API's ``baseline_problem`` codes)."""
    return "; ".join(TEXTS[lang].get(f"problem_{c}", c.replace("_", " ")) for c in codes)


def pct(fraction: float | None, lang: str, digits: int = 1) -> str:
    """A 0..1 share as a percentage, e.g. completeness 0.9583 → "95,8"."""
    return num(None if fraction is None else 100.0 * fraction, digits, lang)
