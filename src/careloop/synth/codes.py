"""Code systems and the static code tables the generator draws from.

RxNorm, LOINC, SNOMED CT and CVX codes were checked against the eCQM value-set expansions and the Synthea
sample bundles in the shared oracles (see tests/test_codes.py); the few RxNorm ingredient-level (IN) codes
are used where no verified clinical-drug (SCD) code was at hand. Dict values here are shared by every
resource that uses them: treat them as read-only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
CVX = "http://hl7.org/fhir/sid/cvx"
CPT = "http://www.ama-assn.org/go/cpt"
HCPCS = "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
UCUM = "http://unitsofmeasure.org"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
US_CORE_CATEGORY = "http://hl7.org/fhir/us/core/CodeSystem/us-core-category"
COND_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
COND_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
COND_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
DISCHARGE = "http://terminology.hl7.org/CodeSystem/discharge-disposition"
ADMIT_SOURCE = "http://terminology.hl7.org/CodeSystem/admit-source"
DIAGNOSIS_ROLE = "http://terminology.hl7.org/CodeSystem/diagnosis-role"
PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
ALLERGY_CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
ALLERGY_VERIFICATION = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"
MEDREQ_CATEGORY = "http://terminology.hl7.org/CodeSystem/medicationrequest-category"
ORG_TYPE = "http://terminology.hl7.org/CodeSystem/organization-type"
MARITAL = "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus"
SUBSCRIBER_REL = "http://terminology.hl7.org/CodeSystem/subscriber-relationship"
BCP47 = "urn:ietf:bcp:47"
OMB_RACE = "urn:oid:2.16.840.1.113883.6.238"
NPI = "http://hl7.org/fhir/sid/us-npi"
TIN = "urn:oid:2.16.840.1.113883.4.4"
MBI = "http://hl7.org/fhir/sid/us-mbi"
MRN = "urn:careloop:synth-ehr:mrn"
CLINIC_VISIT = "urn:careloop:synth-ehr:visit"
COVERAGE_KIND = "urn:careloop:coverage-kind"
OREC_URL = "urn:careloop:fhir:StructureDefinition:original-reason-for-entitlement"
OREC_SYSTEM = "urn:careloop:cms-orec"


def coding(system: str, code: str, display: str) -> dict[str, str]:
    return {"system": system, "code": code, "display": display}


def concept(system: str, code: str, display: str, text: str | None = None) -> dict[str, Any]:
    """A CodeableConcept; ``text`` only when it says something the display does not."""
    if text and text != display:
        return {"coding": [coding(system, code, display)], "text": text}
    return {"coding": [coding(system, code, display)]}


def category(system: str, code: str, display: str) -> list[dict[str, Any]]:
    return [{"coding": [coding(system, code, display)]}]


# ---- shared small concepts -------------------------------------------------------------------------------
CAT_LAB = category(OBS_CATEGORY, "laboratory", "Laboratory")
CAT_VITALS = category(OBS_CATEGORY, "vital-signs", "Vital Signs")
CAT_SURVEY = category(OBS_CATEGORY, "survey", "Survey")
CAT_SOCIAL = category(OBS_CATEGORY, "social-history", "Social History")
CAT_SDOH = CAT_SURVEY + category(US_CORE_CATEGORY, "sdoh", "SDOH")
CAT_PROBLEM = category(COND_CATEGORY, "problem-list-item", "Problem List Item")
CAT_ENCOUNTER_DX = category(COND_CATEGORY, "encounter-diagnosis", "Encounter Diagnosis")
CLINICAL_ACTIVE = concept(COND_CLINICAL, "active", "Active")
CLINICAL_RESOLVED = concept(COND_CLINICAL, "resolved", "Resolved")
CONFIRMED = concept(COND_VERIFICATION, "confirmed", "Confirmed")
MEDREQ_COMMUNITY = category(MEDREQ_CATEGORY, "community", "Community")
PPRF = [{"coding": [coding(PARTICIPATION, "PPRF", "primary performer")]}]
ROLE_AD = concept(DIAGNOSIS_ROLE, "AD", "Admission diagnosis")
ROLE_DD = concept(DIAGNOSIS_ROLE, "DD", "Discharge diagnosis")
ROLE_CC = concept(DIAGNOSIS_ROLE, "CC", "Chief complaint")

ENC_CLASS = {
    "AMB": coding(ACT_CODE, "AMB", "ambulatory"),
    "EMER": coding(ACT_CODE, "EMER", "emergency"),
    "IMP": coding(ACT_CODE, "IMP", "inpatient encounter"),
    "OBSENC": coding(ACT_CODE, "OBSENC", "observation encounter"),
}

# FHIR discharge-disposition code, its display, and the HL7 v2 table 0112 (UB-04 patient status) code.
DISPOSITIONS: dict[str, tuple[str, str, str]] = {
    "home": ("home", "Home", "01"),
    "home-health": ("home", "Home", "06"),
    "snf": ("snf", "Skilled nursing facility", "03"),
    "rehab": ("rehab", "Rehabilitation", "62"),
    "hosp": ("hosp", "Hospice", "50"),
    "hosp-facility": ("hosp", "Hospice", "51"),
    "exp": ("exp", "Expired", "20"),
    "aadvice": ("aadvice", "Left against advice", "07"),
}
DISPOSITION_TEXT = {"home-health": "Home with home health services", "hosp-facility": "Hospice (medical facility)"}

ADMIT_SOURCES = {
    "emd": concept(ADMIT_SOURCE, "emd", "From accident/emergency department"),
    "gp": concept(ADMIT_SOURCE, "gp", "General Practitioner referral"),
}


# ---- observations ----------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Lab:
    code: dict[str, Any]
    unit: str
    ucum: str


def _lab(code: str, display: str, text: str, unit: str, ucum: str | None = None) -> Lab:
    return Lab(concept(LOINC, code, display, text), unit, ucum or unit)


A1C = _lab("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "Hemoglobin A1c", "%")
EGFR = _lab("98979-8", "Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in Serum, Plasma or "
            "Blood by Creatinine-based formula (CKD-EPI 2021)", "eGFR (CKD-EPI 2021)",
            "mL/min/{1.73_m2}")
UACR = _lab("9318-7", "Albumin/Creatinine [Mass Ratio] in Urine", "Urine albumin/creatinine ratio", "mg/g")
CHOL = _lab("2093-3", "Cholesterol [Mass/volume] in Serum or Plasma", "Total cholesterol", "mg/dL")
HDL = _lab("2085-9", "Cholesterol in HDL [Mass/volume] in Serum or Plasma", "HDL cholesterol", "mg/dL")
LDL = _lab("13457-7", "Cholesterol in LDL [Mass/volume] in Serum or Plasma by calculation", "LDL cholesterol",
           "mg/dL")
TRIG = _lab("2571-8", "Triglyceride [Mass/volume] in Serum or Plasma", "Triglycerides", "mg/dL")
BMI = _lab("39156-5", "Body mass index (BMI) [Ratio]", "BMI", "kg/m2")
WEIGHT = _lab("29463-7", "Body weight", "Body weight", "kg")
HEIGHT = _lab("8302-2", "Body height", "Body height", "cm")
BP_PANEL = concept(LOINC, "85354-9", "Blood pressure panel with all children optional", "Blood pressure")
SYSTOLIC = concept(LOINC, "8480-6", "Systolic blood pressure")
DIASTOLIC = concept(LOINC, "8462-4", "Diastolic blood pressure")
PHQ2 = concept(LOINC, "55758-7", "Patient Health Questionnaire 2 item (PHQ-2) total score [Reported]", "PHQ-2 total")
PHQ9 = concept(LOINC, "44261-6", "Patient Health Questionnaire 9 item (PHQ-9) total score [Reported]", "PHQ-9 total")
SMOKING = concept(LOINC, "72166-2", "Tobacco smoking status")
FALLS = concept(LOINC, "52552-7", "Falls in the past year")
YES = concept(SNOMED, "373066001", "Yes (qualifier value)", "Yes")
NO = concept(SNOMED, "373067005", "No (qualifier value)", "No")
SMOKING_VALUES = {
    "never": concept(SNOMED, "266919005", "Never smoked tobacco (finding)"),
    "former": concept(SNOMED, "8517006", "Ex-smoker (finding)"),
    "daily": concept(SNOMED, "449868002", "Smokes tobacco daily (finding)"),
    "occasional": concept(SNOMED, "428041000124106", "Occasional tobacco smoker (finding)"),
}
FOOD_WORRY = concept(LOINC, "88122-7", "Within the past 12 months we worried whether our food would run out "
                     "before we got money to buy more")
FOOD_LAST = concept(LOINC, "88123-5", "Within the past 12 months the food we bought just didn't last and we "
                    "didn't have money to get more")
HOUSING = concept(LOINC, "71802-3", "Housing status")
TRANSPORT = concept(LOINC, "93030-5", "Has lack of transportation kept you from medical appointments, meetings, "
                    "work, or from getting things needed for daily living")
FOOD_ANSWERS = (concept(LOINC, "LA28397-0", "Often true"), concept(LOINC, "LA6729-3", "Sometimes true"),
                concept(LOINC, "LA28398-8", "Never true"))
HOUSING_ANSWERS = (
    concept(LOINC, "LA31993-1", "I have a steady place to live"),
    concept(LOINC, "LA31994-9", "I have a place to live today, but I am worried about losing it in the future"),
    concept(LOINC, "LA31995-6", "I do not have a steady place to live (I am temporarily staying with others, in a "
            "hotel, in a shelter, living outside on the street, on a beach, in a car, abandoned building, bus or "
            "train station, or in a park)"),
)
YES_NO_LOINC = (concept(LOINC, "LA33-6", "Yes"), concept(LOINC, "LA32-8", "No"))


# ---- medications -----------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Med:
    concept: dict[str, Any]
    sig: str
    weight: float


def _med(rxcui: str, display: str, sig: str, weight: float = 1.0) -> Med:
    return Med(concept(RXNORM, rxcui, display), sig, weight)


DAILY = "Take 1 tablet by mouth once daily"
BID = "Take 1 tablet by mouth twice daily"
MEDS: dict[str, tuple[Med, ...]] = {
    "statin": (
        _med("617310", "atorvastatin 20 MG Oral Tablet", "Take 1 tablet by mouth daily at bedtime", 3),
        _med("617311", "atorvastatin 40 MG Oral Tablet", DAILY, 3),
        _med("259255", "atorvastatin 80 MG Oral Tablet", DAILY, 1),
        _med("859751", "rosuvastatin calcium 20 MG Oral Tablet", DAILY, 1.5),
        _med("312961", "simvastatin 20 MG Oral Tablet", "Take 1 tablet by mouth every evening", 1),
        _med("904475", "pravastatin sodium 40 MG Oral Tablet", "Take 1 tablet by mouth every evening", 1.5),
    ),
    "acei": (
        _med("311354", "lisinopril 5 MG Oral Tablet", DAILY, 1),
        _med("314076", "lisinopril 10 MG Oral Tablet", DAILY, 3),
        _med("314077", "lisinopril 20 MG Oral Tablet", DAILY, 3),
        _med("197884", "lisinopril 40 MG Oral Tablet", DAILY, 1),
    ),
    "arb": (
        _med("979485", "losartan potassium 25 MG Oral Tablet", DAILY, 1),
        _med("979492", "losartan potassium 50 MG Oral Tablet", DAILY, 3),
        _med("979480", "losartan potassium 100 MG Oral Tablet", DAILY, 2),
        _med("349201", "valsartan 160 MG Oral Tablet", DAILY, 1),
    ),
    "ccb": (
        _med("308136", "amlodipine 2.5 MG Oral Tablet", DAILY, 1),
        _med("197361", "amlodipine 5 MG Oral Tablet", DAILY, 3),
        _med("308135", "amlodipine 10 MG Oral Tablet", DAILY, 2),
    ),
    "thiazide": (
        _med("310798", "hydrochlorothiazide 25 MG Oral Tablet", "Take 1 tablet by mouth every morning", 3),
        _med("429503", "hydrochlorothiazide 12.5 MG Oral Tablet", "Take 1 tablet by mouth every morning", 2),
        _med("197499", "chlorthalidone 25 MG Oral Tablet", "Take 1 tablet by mouth every morning", 1),
    ),
    "bb": (
        _med("866427", "24 HR metoprolol succinate 25 MG Extended Release Oral Tablet", DAILY, 2),
        _med("866436", "24 HR metoprolol succinate 50 MG Extended Release Oral Tablet", DAILY, 2),
        _med("866924", "metoprolol tartrate 25 MG Oral Tablet", BID, 2),
        _med("200031", "carvedilol 6.25 MG Oral Tablet", "Take 1 tablet by mouth twice daily with food", 1),
        _med("197381", "atenolol 50 MG Oral Tablet", DAILY, 1),
    ),
    "bb_hfref": (
        _med("200032", "carvedilol 12.5 MG Oral Tablet", "Take 1 tablet by mouth twice daily with food", 2),
        _med("200033", "carvedilol 25 MG Oral Tablet", "Take 1 tablet by mouth twice daily with food", 1),
        _med("866412", "24 HR metoprolol succinate 100 MG Extended Release Oral Tablet", DAILY, 2),
    ),
    "loop": (
        _med("313988", "furosemide 40 MG Oral Tablet", "Take 1 tablet by mouth every morning", 3),
        _med("310429", "furosemide 20 MG Oral Tablet", "Take 1 tablet by mouth every morning", 2),
        _med("198371", "torsemide 20 MG Oral Tablet", "Take 1 tablet by mouth every morning", 1),
    ),
    "mra": (_med("313096", "spironolactone 25 MG Oral Tablet", DAILY),),
    "arni": (
        _med("1656340", "sacubitril 24 MG / valsartan 26 MG Oral Tablet", BID, 1),
        _med("1656349", "sacubitril 49 MG / valsartan 51 MG Oral Tablet", BID, 1),
    ),
    "sglt2": (_med("1545653", "empagliflozin", "Take 10 mg by mouth once daily"),),
    "digoxin": (_med("197604", "digoxin 0.125 MG Oral Tablet", DAILY),),
    "potassium": (_med("8591", "potassium chloride", "Take 20 mEq by mouth once daily with food"),),
    "anticoag": (
        _med("1364445", "apixaban 5 MG Oral Tablet", BID, 5),
        _med("1364435", "apixaban 2.5 MG Oral Tablet", BID, 1.5),
        _med("1232086", "rivaroxaban 20 MG Oral Tablet", "Take 1 tablet by mouth daily with the evening meal", 2),
        _med("855332", "warfarin sodium 5 MG Oral Tablet", "Take as directed per INR; usually 1 tablet daily", 1.5),
    ),
    "rate_ccb": (_med("830837", "24 HR diltiazem hydrochloride 240 MG Extended Release Oral Capsule", DAILY),),
    "aspirin": (_med("243670", "aspirin 81 MG Oral Tablet", DAILY),),
    "clopidogrel": (_med("309362", "clopidogrel 75 MG Oral Tablet", DAILY),),
    "nitro": (_med("705129", "nitroglycerin 0.4 MG/ACTUAT Mucosal Spray",
                   "1 spray under the tongue every 5 minutes as needed for chest pain, up to 3 doses"),),
    "metformin": (
        _med("860975", "24 HR metformin hydrochloride 500 MG Extended Release Oral Tablet",
             "Take 2 tablets by mouth daily with the evening meal", 2),
        _med("860975", "24 HR metformin hydrochloride 500 MG Extended Release Oral Tablet",
             "Take 1 tablet by mouth daily with the evening meal", 1),
    ),
    "sulfonylurea": (
        _med("310490", "glipizide 5 MG Oral Tablet", "Take 1 tablet by mouth daily before breakfast", 2),
        _med("310488", "glipizide 10 MG Oral Tablet", "Take 1 tablet by mouth daily before breakfast", 1),
    ),
    "dpp4": (_med("665033", "sitagliptin 100 MG Oral Tablet", DAILY),),
    "glp1": (
        _med("897122", "3 ML liraglutide 6 MG/ML Pen Injector", "Inject 1.2 mg under the skin once daily", 1),
        _med("1991302", "semaglutide", "Inject 1 mg under the skin once weekly", 2),
    ),
    "insulin_basal": (_med("847230", "3 ML insulin glargine 100 UNT/ML Pen Injector",
                           "Inject 20 units under the skin at bedtime; adjust per protocol"),),
    "insulin_prandial": (_med("865098", "Insulin Lispro 100 UNT/ML Injectable Solution [Humalog]",
                              "Inject per sliding scale under the skin with meals"),),
    "ssri": (
        _med("312941", "sertraline 50 MG Oral Tablet", DAILY, 3),
        _med("312938", "sertraline 100 MG Oral Tablet", DAILY, 1),
        _med("349332", "escitalopram 10 MG Oral Tablet", DAILY, 3),
        _med("200371", "citalopram 20 MG Oral Tablet", DAILY, 2),
    ),
    "snri": (_med("596934", "duloxetine 60 MG Delayed Release Oral Capsule", DAILY),),
    "trazodone": (_med("856377", "trazodone hydrochloride 50 MG Oral Tablet", "Take 1 tablet by mouth at bedtime "
                       "as needed for sleep"),),
    "donepezil": (
        _med("997229", "donepezil hydrochloride 5 MG Oral Tablet", "Take 1 tablet by mouth at bedtime", 1),
        _med("997223", "donepezil hydrochloride 10 MG Oral Tablet", "Take 1 tablet by mouth at bedtime", 2),
    ),
    "memantine": (_med("996561", "memantine hydrochloride 10 MG Oral Tablet", BID),),
    "saba": (_med("745679", "200 ACTUAT albuterol 0.09 MG/ACTUAT Metered Dose Inhaler",
                  "Inhale 2 puffs every 4 to 6 hours as needed for shortness of breath or wheezing"),),
    "lama": (_med("69120", "tiotropium", "Inhale the contents of 1 capsule (18 mcg) once daily"),),
    "ics_laba": (_med("896209", "60 ACTUAT fluticasone propionate 0.25 MG/ACTUAT / salmeterol 0.05 MG/ACTUAT "
                      "Dry Powder Inhaler", "Inhale 1 puff twice daily; rinse mouth after use"),),
    "ics": (_med("895994", "120 ACTUAT fluticasone propionate 0.044 MG/ACTUAT Metered Dose Inhaler",
                 "Inhale 2 puffs twice daily; rinse mouth after use"),),
    "montelukast": (_med("88249", "montelukast", "Take 10 mg by mouth every evening"),),
    "levothyroxine": (_med("966222", "levothyroxine sodium 0.075 MG Oral Tablet",
                           "Take 1 tablet by mouth every morning on an empty stomach"),),
    "bisphosphonate": (_med("904419", "alendronic acid 10 MG Oral Tablet",
                            "Take 1 tablet by mouth every morning with a full glass of water; stay upright "
                            "30 minutes"),),
    "vitamin_d": (_med("2418", "cholecalciferol", "Take 1,000 units by mouth daily"),),
    "tamsulosin": (_med("77492", "tamsulosin", "Take 0.4 mg by mouth daily, 30 minutes after the same meal"),),
    "finasteride": (_med("25025", "finasteride", "Take 5 mg by mouth once daily"),),
    "ppi": (
        _med("7646", "omeprazole", "Take 20 mg by mouth daily before breakfast", 3),
        _med("40790", "pantoprazole", "Take 40 mg by mouth daily before breakfast", 2),
    ),
    "acetaminophen": (_med("313782", "acetaminophen 325 MG Oral Tablet",
                           "Take 2 tablets by mouth every 6 hours as needed for pain; max 3,000 mg a day"),),
    "nsaid": (_med("41493", "meloxicam", "Take 7.5 mg by mouth once daily with food"),),
    "tramadol": (_med("835603", "tramadol hydrochloride 50 MG Oral Tablet",
                      "Take 1 tablet by mouth every 8 hours as needed for severe pain"),),
    "methotrexate": (_med("105585", "methotrexate 2.5 MG Oral Tablet", "Take 6 tablets by mouth once weekly"),),
    "allopurinol": (_med("197319", "allopurinol 100 MG Oral Tablet", DAILY),),
    "colchicine": (_med("197541", "colchicine 0.6 MG Oral Tablet", "Take 1 tablet by mouth daily"),),
    "loratadine": (_med("311372", "loratadine 10 MG Oral Tablet", "Take 1 tablet by mouth daily as needed for "
                        "allergies"),),
    "iron": (_med("310325", "ferrous sulfate 325 MG Oral Tablet", "Take 1 tablet by mouth daily with food"),),
    "latanoprost": (_med("43611", "latanoprost", "Instill 1 drop in both eyes at bedtime"),),
    "gabapentin": (_med("25480", "gabapentin", "Take 300 mg by mouth three times daily"),),
}
ACUTE_MEDS: dict[str, Med] = {
    "amox_clav": _med("562508", "amoxicillin 875 MG / clavulanate 125 MG Oral Tablet",
                      "Take 1 tablet by mouth twice daily for 7 days"),
    "nitrofurantoin": _med("1648759", "nitrofurantoin, macrocrystals 100 MG Oral Capsule",
                           "Take 1 capsule by mouth twice daily with food for 5 days"),
    "smx_tmp": _med("198335", "sulfamethoxazole 800 MG / trimethoprim 160 MG Oral Tablet",
                    "Take 1 tablet by mouth twice daily for 7 days"),
    "prednisone": _med("312615", "prednisone 20 MG Oral Tablet", "Take 2 tablets by mouth daily for 5 days"),
}

# ---- immunizations ---------------------------------------------------------------------------------------
FLU_QUADRIVALENT = (  # 2023-24 and earlier seasons
    (concept(CVX, "197", "influenza, high-dose, quadrivalent"), 5.0),
    (concept(CVX, "205", "influenza, seasonal vaccine, quadrivalent, adjuvanted, 0.5mL dose, preservative free"), 3.0),
    (concept(CVX, "150", "Influenza, injectable, quadrivalent, preservative free"), 2.0),
)
FLU_TRIVALENT = (  # from the 2024-25 season on
    (concept(CVX, "135", "Influenza, high dose seasonal, preservative-free"), 5.0),
    (concept(CVX, "168", "influenza, trivalent, adjuvanted"), 3.0),
    (concept(CVX, "140", "Influenza, seasonal, injectable, preservative free"), 2.0),
)
PPSV23 = concept(CVX, "33", "pneumococcal polysaccharide vaccine, 23 valent")
PCV13 = concept(CVX, "133", "pneumococcal conjugate vaccine, 13 valent")
PCV15 = concept(CVX, "215", "Pneumococcal conjugate vaccine 15-valent (PCV15), polysaccharide CRM197 conjugate, "
                "adjuvant, preservative free")
PCV20 = concept(CVX, "216", "Pneumococcal conjugate vaccine 20-valent (PCV20), polysaccharide CRM197 conjugate, "
                "adjuvant, preservative free")
ZOSTER = concept(CVX, "187", "zoster vaccine recombinant")
TDAP = concept(CVX, "115", "Tdap")
COVID = concept(CVX, "213", "SARS-COV-2 (COVID-19) vaccine, UNSPECIFIED FORMULATION")

# ---- procedures and visit types --------------------------------------------------------------------------
PROC = {
    "colonoscopy": concept(CPT, "45378", "Colonoscopy, flexible; diagnostic"),
    "colonoscopy_biopsy": concept(CPT, "45380", "Colonoscopy, flexible; with biopsy, single or multiple"),
    "colonoscopy_snare": concept(CPT, "45385", "Colonoscopy, flexible; with removal of tumor(s), polyp(s), or "
                                 "other lesion(s) by snare technique"),
    "fit": concept(CPT, "82274", "Blood, occult, by fecal hemoglobin determination by immunoassay, qualitative"),
    "sdna": concept(CPT, "81528", "Oncology (colorectal) screening, quantitative real-time target and signal "
                    "amplification of 10 DNA markers and fecal hemoglobin"),
    "mammogram": concept(CPT, "77067", "Screening mammography, bilateral, including computer-aided detection"),
    "eye_no_retinopathy": concept(CPT, "2023F", "Dilated retinal eye exam with interpretation by an "
                                  "ophthalmologist or optometrist documented and reviewed; without evidence of "
                                  "retinopathy"),
    "eye_retinopathy": concept(CPT, "2022F", "Dilated retinal eye exam with interpretation by an ophthalmologist "
                               "or optometrist documented and reviewed; with evidence of retinopathy"),
    "dxa": concept(CPT, "77080", "Dual-energy X-ray absorptiometry (DXA), bone density study, axial skeleton"),
    "ldct": concept(CPT, "71271", "Computed tomography, thorax, low dose for lung cancer screening"),
    "ecg": concept(CPT, "93000", "Electrocardiogram, routine ECG with at least 12 leads; with interpretation "
                   "and report"),
    "echo": concept(CPT, "93306", "Echocardiography, transthoracic, complete, with spectral and color flow "
                    "Doppler"),
    "spirometry": concept(CPT, "94010", "Spirometry"),
    "knee": concept(CPT, "27447", "Arthroplasty, knee, condyle and plateau; medial and lateral compartments "
                    "(total knee arthroplasty)"),
    "hip": concept(CPT, "27130", "Arthroplasty, acetabular and proximal femoral prosthetic replacement (total "
                   "hip arthroplasty)"),
    "hip_fx_repair": concept(CPT, "27236", "Open treatment of femoral fracture, proximal end, neck, internal "
                             "fixation or prosthetic replacement"),
    "pci": concept(CPT, "92928", "Percutaneous transcatheter placement of intracoronary stent(s), single major "
                   "coronary artery or branch"),
}
OFFICE_TYPES = {
    "99212": concept(CPT, "99212", "Office or other outpatient visit, established patient, straightforward MDM",
                     "Office visit"),
    "99213": concept(CPT, "99213", "Office or other outpatient visit, established patient, low MDM",
                     "Office visit"),
    "99214": concept(CPT, "99214", "Office or other outpatient visit, established patient, moderate MDM",
                     "Office visit"),
    "99215": concept(CPT, "99215", "Office or other outpatient visit, established patient, high MDM",
                     "Office visit"),
    "99204": concept(CPT, "99204", "Office or other outpatient visit, new patient, moderate MDM",
                     "New patient visit"),
    "G0438": concept(HCPCS, "G0438", "Annual wellness visit; includes a personalized prevention plan of service "
                     "(pps), initial visit", "Annual wellness visit (initial)"),
    "G0439": concept(HCPCS, "G0439", "Annual wellness visit, includes a personalized prevention plan of service "
                     "(pps), subsequent visit", "Annual wellness visit"),
    "99495": concept(CPT, "99495", "Transitional care management services, moderate complexity, face-to-face "
                     "visit within 14 calendar days of discharge", "Transitional care visit"),
    "99496": concept(CPT, "99496", "Transitional care management services, high complexity, face-to-face visit "
                     "within 7 calendar days of discharge", "Transitional care visit"),
}
ED_TYPES = (
    concept(CPT, "99283", "Emergency department visit, moderate MDM", "Emergency department visit"),
    concept(CPT, "99284", "Emergency department visit, moderate MDM", "Emergency department visit"),
    concept(CPT, "99285", "Emergency department visit, high MDM", "Emergency department visit"),
)
INPATIENT_TYPE = concept(SNOMED, "183452005", "Emergency hospital admission (procedure)", "Inpatient admission")
ELECTIVE_TYPE = concept(SNOMED, "8715000", "Hospital admission, elective (procedure)", "Elective admission")
OBS_TYPE = concept(SNOMED, "4525004", "Emergency department patient visit (procedure)",
                   "Observation stay from the emergency department")

# ---- allergies: (system, code, display, category, type, reactions) ---------------------------------------
ALLERGENS: tuple[tuple[str, str, str, str, str, tuple[tuple[str, str], ...], float], ...] = (
    (RXNORM, "7984", "penicillin V", "medication", "allergy", (("271807003", "Eruption of skin (disorder)"),
                                                               ("247472004", "Wheal (finding)")), 10),
    (RXNORM, "10831", "sulfamethoxazole / trimethoprim", "medication", "allergy",
     (("271807003", "Eruption of skin (disorder)"),), 5),
    (RXNORM, "2670", "codeine", "medication", "intolerance", (("422587007", "Nausea (finding)"),), 3),
    (RXNORM, "7052", "morphine", "medication", "intolerance", (("422587007", "Nausea (finding)"),
                                                                ("418290006", "Itching (finding)")), 2),
    (RXNORM, "1191", "aspirin", "medication", "allergy", (("247472004", "Wheal (finding)"),), 2),
    (RXNORM, "5640", "ibuprofen", "medication", "intolerance", (("62315008", "Diarrhea (finding)"),), 1),
    (RXNORM, "2551", "ciprofloxacin", "medication", "allergy", (("271807003", "Eruption of skin (disorder)"),), 2),
    (RXNORM, "723", "amoxicillin", "medication", "allergy", (("247472004", "Wheal (finding)"),), 3),
    (RXNORM, "83367", "atorvastatin", "medication", "intolerance", (("68962001", "Muscle pain (finding)"),), 2),
    (SNOMED, "111088007", "Latex (substance)", "environment", "allergy", (("247472004", "Wheal (finding)"),), 2),
    (SNOMED, "288328004", "Bee venom (substance)", "environment", "allergy",
     (("39579001", "Anaphylaxis (disorder)"),), 1.5),
    (SNOMED, "762952008", "Peanut (substance)", "food", "allergy", (("39579001", "Anaphylaxis (disorder)"),
                                                                    ("247472004", "Wheal (finding)")), 1),
    (SNOMED, "735029006", "Shellfish (substance)", "food", "allergy", (("247472004", "Wheal (finding)"),), 2),
)
LISINOPRIL_ALLERGEN = (RXNORM, "29046", "lisinopril", "medication", "intolerance",
                       (("49727002", "Cough (finding)"),), 0.0)
