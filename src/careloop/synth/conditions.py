"""The chronic-condition catalogue: ICD-10-CM (with SNOMED CT where known), prevalence and correlations.

Each condition is drawn in catalogue order from a logistic model: a calibrated intercept, a shared latent
frailty (so conditions cluster in the same people, as they do in Medicare), age, sex, disability
entitlement, smoking and log odds ratios for conditions already drawn (heart failure follows ischemic heart
disease, hypertension and atrial fibrillation; CKD follows diabetes and hypertension, ...). The intercepts
are calibrated by ``calibrate()`` so the marginal prevalences over this panel's age mix land on the
``target`` figures, which follow the CMS Chronic Conditions Warehouse (FFS Medicare) prevalence tables.

The ICD-10-CM codes of each condition sit in the CCW definition of the same condition (checked against the
shared CCW oracle by the tests), with a few common problem-list codes outside it (Z86.73, K21.9 ...).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Variant:
    icd: str
    display: str
    weight: float
    snomed: str = ""
    snomed_display: str = ""
    tag: str = ""


@dataclass(frozen=True, slots=True)
class ChronicDef:
    key: str
    label: str
    target: float
    intercept: float
    frailty: float
    age: float  # log-odds per decade above 75
    female: float
    disabled: float
    smoker: float
    deps: tuple[tuple[str, float], ...]
    variants: tuple[Variant, ...]
    sex: str = ""  # "female" or "male" when only one sex can have it
    resolve: float = 0.0  # share of cases resolved (clinicalStatus resolved, abatementDateTime)
    core: bool = True  # counted among the CCW "chronic conditions" of a patient


def V(icd: str, display: str, weight: float, snomed: str = "", snomed_display: str = "", tag: str = "") -> Variant:
    return Variant(icd, display, weight, snomed, snomed_display, tag)


_HTN_SCT = ("59621000", "Essential hypertension (disorder)")
_HTN_ANY_SCT = ("38341003", "Hypertensive disorder, systemic arterial (disorder)")
HTN_VARIANTS = {
    "I10": V("I10", "Essential (primary) hypertension", 1, *_HTN_SCT),
    "I11.0": V("I11.0", "Hypertensive heart disease with heart failure", 1, *_HTN_ANY_SCT),
    "I12.9": V("I12.9", "Hypertensive chronic kidney disease with stage 1 through stage 4 chronic kidney disease, "
               "or unspecified chronic kidney disease", 1, *_HTN_ANY_SCT),
    "I12.0": V("I12.0", "Hypertensive chronic kidney disease with stage 5 chronic kidney disease or end stage "
               "renal disease", 1, *_HTN_ANY_SCT),
    "I13.0": V("I13.0", "Hypertensive heart and chronic kidney disease with heart failure and stage 1 through "
               "stage 4 chronic kidney disease, or unspecified chronic kidney disease", 1, *_HTN_ANY_SCT),
    "I13.2": V("I13.2", "Hypertensive heart and chronic kidney disease with heart failure and with stage 5 "
               "chronic kidney disease, or end stage renal disease", 1, *_HTN_ANY_SCT),
}
DM_CKD = V("E11.22", "Type 2 diabetes mellitus with diabetic chronic kidney disease", 1, "127013003",
           "Disorder of kidney due to diabetes mellitus (disorder)", "ckd")
DM_PVD = V("E11.51", "Type 2 diabetes mellitus with diabetic peripheral angiopathy without gangrene", 1,
           "44054006", "Diabetes mellitus type 2 (disorder)", "pvd")
_T2 = ("44054006", "Diabetes mellitus type 2 (disorder)")
_HF = ("84114007", "Heart failure (disorder)")
_MDD = ("370143000", "Major depressive disorder (disorder)")

CATALOG: tuple[ChronicDef, ...] = (
    ChronicDef("obesity", "Obesity", 0.20, -1.605, 0.35, -0.35, 0.1, 0.5, 0.0, (), (
        V("E66.9", "Obesity, unspecified", 0.72, "414916001", "Obesity (disorder)"),
        V("E66.01", "Morbid (severe) obesity due to excess calories", 0.18, "238136002", "Morbid obesity (disorder)",
          "morbid"),
        V("E66.09", "Other obesity due to excess calories", 0.10, "414916001", "Obesity (disorder)"),
    ), resolve=0.05),
    ChronicDef("dm", "Diabetes", 0.27, -1.299, 0.45, -0.15, -0.2, 0.3, 0.1, (("obesity", 1.1),), (
        V("E11.9", "Type 2 diabetes mellitus without complications", 0.40, *_T2),
        V("E11.65", "Type 2 diabetes mellitus with hyperglycemia", 0.16, *_T2),
        V("E11.42", "Type 2 diabetes mellitus with diabetic polyneuropathy", 0.12, "44054006",
          "Diabetes mellitus type 2 (disorder)", "neuropathy"),
        V("E11.40", "Type 2 diabetes mellitus with diabetic neuropathy, unspecified", 0.05, "44054006",
          "Diabetes mellitus type 2 (disorder)", "neuropathy"),
        V("E11.319", "Type 2 diabetes mellitus with unspecified diabetic retinopathy without macular edema", 0.05,
          "44054006", "Diabetes mellitus type 2 (disorder)", "retinopathy"),
        V("E11.3293", "Type 2 diabetes mellitus with mild nonproliferative diabetic retinopathy without macular "
          "edema, bilateral", 0.03, "44054006", "Diabetes mellitus type 2 (disorder)", "retinopathy"),
        V("E11.69", "Type 2 diabetes mellitus with other specified complication", 0.06, *_T2),
        V("E11.8", "Type 2 diabetes mellitus with unspecified complications", 0.03, *_T2),
        V("E10.9", "Type 1 diabetes mellitus without complications", 0.03, "46635009",
          "Diabetes mellitus type 1 (disorder)", "t1"),
        V("E10.65", "Type 1 diabetes mellitus with hyperglycemia", 0.02, "46635009",
          "Diabetes mellitus type 1 (disorder)", "t1"),
    )),
    ChronicDef("htn", "Hypertension", 0.575, -0.043, 0.55, 0.25, 0.0, 0.0, 0.1,
               (("obesity", 0.6), ("dm", 1.0)), tuple(HTN_VARIANTS.values())[:1]),
    ChronicDef("hld", "Hyperlipidemia", 0.475, -0.961, 0.35, -0.05, 0.05, 0.0, 0.1,
               (("dm", 0.9), ("htn", 0.8), ("obesity", 0.3)), (
        V("E78.5", "Hyperlipidemia, unspecified", 0.45, "55822004", "Hyperlipidemia (disorder)"),
        V("E78.2", "Mixed hyperlipidemia", 0.25, "55822004", "Hyperlipidemia (disorder)"),
        V("E78.00", "Pure hypercholesterolemia, unspecified", 0.20, "13644009", "Hypercholesterolemia (disorder)"),
        V("E78.49", "Other hyperlipidemia", 0.05, "55822004", "Hyperlipidemia (disorder)"),
        V("E78.1", "Pure hyperglyceridemia", 0.05),
    )),
    ChronicDef("ihd", "Ischemic heart disease", 0.255, -2.264, 0.55, 0.3, -0.6, 0.0, 0.45,
               (("htn", 0.8), ("hld", 0.9), ("dm", 0.5)), (
        V("I25.10", "Atherosclerotic heart disease of native coronary artery without angina pectoris", 0.68,
          "53741008", "Coronary arteriosclerosis (disorder)"),
        V("I25.119", "Atherosclerotic heart disease of native coronary artery with unspecified angina pectoris",
          0.12, "53741008", "Coronary arteriosclerosis (disorder)"),
        V("I25.9", "Chronic ischemic heart disease, unspecified", 0.12, "414545008",
          "Ischemic heart disease (disorder)"),
        V("I25.5", "Ischemic cardiomyopathy", 0.08),
    )),
    ChronicDef("ckd", "Chronic kidney disease", 0.225, -2.449, 0.55, 0.45, 0.0, 0.2, 0.0,
               (("dm", 1.1), ("htn", 1.0), ("obesity", 0.2)), (
        V("N18.1", "Chronic kidney disease, stage 1", 0.02, "431855005", "Chronic kidney disease stage 1 (disorder)",
          "1"),
        V("N18.2", "Chronic kidney disease, stage 2 (mild)", 0.12, "431856006",
          "Chronic kidney disease stage 2 (disorder)", "2"),
        V("N18.30", "Chronic kidney disease, stage 3 unspecified", 0.10, "433144002",
          "Chronic kidney disease stage 3 (disorder)", "3"),
        V("N18.31", "Chronic kidney disease, stage 3a", 0.33, "433144002",
          "Chronic kidney disease stage 3 (disorder)", "3a"),
        V("N18.32", "Chronic kidney disease, stage 3b", 0.20, "433144002",
          "Chronic kidney disease stage 3 (disorder)", "3b"),
        V("N18.4", "Chronic kidney disease, stage 4 (severe)", 0.10, "431857002",
          "Chronic kidney disease stage 4 (disorder)", "4"),
        V("N18.5", "Chronic kidney disease, stage 5", 0.02, "433146000", "Chronic kidney disease stage 5 (disorder)",
          "5"),
        V("N18.6", "End stage renal disease", 0.02, "46177005", "End-stage renal disease (disorder)", "esrd"),
        V("N18.9", "Chronic kidney disease, unspecified", 0.09, "709044004", "Chronic kidney disease (disorder)", "u"),
    )),
    ChronicDef("af", "Atrial fibrillation", 0.09, -2.807, 0.45, 0.55, -0.3, -0.3, 0.0,
               (("htn", 0.5), ("obesity", 0.3), ("ihd", 0.4)), (
        V("I48.91", "Unspecified atrial fibrillation", 0.40, "49436004", "Atrial fibrillation (disorder)"),
        V("I48.0", "Paroxysmal atrial fibrillation", 0.30, "282825002", "Paroxysmal atrial fibrillation (disorder)"),
        V("I48.20", "Chronic atrial fibrillation, unspecified", 0.10, "49436004", "Atrial fibrillation (disorder)"),
        V("I48.21", "Permanent atrial fibrillation", 0.10, "49436004", "Atrial fibrillation (disorder)"),
        V("I48.19", "Other persistent atrial fibrillation", 0.05, "49436004", "Atrial fibrillation (disorder)"),
        V("I48.11", "Longstanding persistent atrial fibrillation", 0.05, "49436004", "Atrial fibrillation (disorder)"),
    )),
    ChronicDef("hf", "Heart failure", 0.135, -3.834, 0.65, 0.45, -0.1, 0.0, 0.2,
               (("ihd", 1.3), ("htn", 0.8), ("af", 1.2), ("dm", 0.4), ("ckd", 0.6), ("obesity", 0.3)), (
        V("I50.9", "Heart failure, unspecified", 0.20, "42343007", "Congestive heart failure (disorder)", "u"),
        V("I50.22", "Chronic systolic (congestive) heart failure", 0.25, *_HF, "r"),
        V("I50.32", "Chronic diastolic (congestive) heart failure", 0.30, *_HF, "p"),
        V("I50.42", "Chronic combined systolic (congestive) and diastolic (congestive) heart failure", 0.10, *_HF,
          "c"),
        V("I50.20", "Unspecified systolic (congestive) heart failure", 0.08, *_HF, "r"),
        V("I50.30", "Unspecified diastolic (congestive) heart failure", 0.07, *_HF, "p"),
    )),
    ChronicDef("copd", "COPD", 0.11, -3.535, 0.5, 0.1, 0.0, 0.5, 1.9, (), (
        V("J44.9", "Chronic obstructive pulmonary disease, unspecified", 0.68, "13645005",
          "Chronic obstructive lung disease (disorder)"),
        V("J43.9", "Emphysema, unspecified", 0.14, "87433001", "Pulmonary emphysema (disorder)"),
        V("J44.1", "Chronic obstructive pulmonary disease with (acute) exacerbation", 0.10, "13645005",
          "Chronic obstructive lung disease (disorder)"),
        V("J43.2", "Centrilobular emphysema", 0.04, "87433001", "Pulmonary emphysema (disorder)"),
        V("J44.0", "Chronic obstructive pulmonary disease with (acute) lower respiratory infection", 0.04,
          "13645005", "Chronic obstructive lung disease (disorder)"),
    )),
    ChronicDef("asthma", "Asthma", 0.065, -3.342, 0.3, -0.15, 0.4, 0.4, 0.0, (("obesity", 0.5), ("copd", 0.9)), (
        V("J45.909", "Unspecified asthma, uncomplicated", 0.50, "195967001", "Asthma (disorder)"),
        V("J45.20", "Mild intermittent asthma, uncomplicated", 0.15, "195967001", "Asthma (disorder)"),
        V("J45.30", "Mild persistent asthma, uncomplicated", 0.15, "195967001", "Asthma (disorder)"),
        V("J45.40", "Moderate persistent asthma, uncomplicated", 0.15, "195967001", "Asthma (disorder)"),
        V("J45.50", "Severe persistent asthma, uncomplicated", 0.05, "195967001", "Asthma (disorder)"),
    ), resolve=0.03),
    ChronicDef("stroke", "Stroke/TIA", 0.045, -3.994, 0.45, 0.35, 0.0, 0.0, 0.3,
               (("af", 0.8), ("htn", 0.6), ("dm", 0.3)), (
        V("I63.9", "Cerebral infarction, unspecified", 0.35, "432504007", "Cerebral infarction (disorder)"),
        V("I63.50", "Cerebral infarction due to unspecified occlusion or stenosis of unspecified cerebral artery",
          0.10, "432504007", "Cerebral infarction (disorder)"),
        V("G45.9", "Transient cerebral ischemic attack, unspecified", 0.15, "266257000",
          "Transient ischemic attack (disorder)"),
        V("Z86.73", "Personal history of transient ischemic attack (TIA), and cerebral infarction without residual "
          "deficits", 0.25),
        V("I69.351", "Hemiplegia and hemiparesis following cerebral infarction affecting right dominant side", 0.10),
        V("I69.354", "Hemiplegia and hemiparesis following cerebral infarction affecting left non-dominant side",
          0.05),
    )),
    ChronicDef("dementia", "Alzheimer's disease and related dementias", 0.10, -2.794, 0.5, 1.1, 0.2, -0.6, 0.0,
               (("stroke", 0.9), ("dm", 0.2)), (
        V("G30.1", "Alzheimer's disease with late onset", 0.25, "26929004", "Alzheimer's disease (disorder)", "alz"),
        V("G30.9", "Alzheimer's disease, unspecified", 0.15, "26929004", "Alzheimer's disease (disorder)", "alz"),
        V("F03.90", "Unspecified dementia, unspecified severity, without behavioral disturbance, psychotic "
          "disturbance, mood disturbance, and anxiety", 0.32, "52448006", "Dementia (disorder)"),
        V("F03.91", "Unspecified dementia, unspecified severity, with behavioral disturbance", 0.05, "52448006",
          "Dementia (disorder)"),
        V("F03.A0", "Unspecified dementia, mild, without behavioral disturbance, psychotic disturbance, mood "
          "disturbance, and anxiety", 0.06, "52448006", "Dementia (disorder)"),
        V("F03.B0", "Unspecified dementia, moderate, without behavioral disturbance, psychotic disturbance, mood "
          "disturbance, and anxiety", 0.05, "52448006", "Dementia (disorder)"),
        V("F01.50", "Vascular dementia, unspecified severity, without behavioral disturbance, psychotic "
          "disturbance, mood disturbance, and anxiety", 0.12, "429998004", "Vascular dementia (disorder)"),
    )),
    ChronicDef("depression", "Depression", 0.18, -2.326, 0.45, -0.1, 0.5, 1.0, 0.2,
               (("dementia", 0.5), ("stroke", 0.5), ("hf", 0.3), ("copd", 0.4)), (
        V("F32.A", "Depression, unspecified", 0.30, "35489007", "Depressive disorder (disorder)"),
        V("F32.9", "Major depressive disorder, single episode, unspecified", 0.20, *_MDD),
        V("F33.1", "Major depressive disorder, recurrent, moderate", 0.12, *_MDD),
        V("F33.0", "Major depressive disorder, recurrent, mild", 0.08, *_MDD),
        V("F32.1", "Major depressive disorder, single episode, moderate", 0.08, *_MDD),
        V("F33.9", "Major depressive disorder, recurrent, unspecified", 0.07, *_MDD),
        V("F34.1", "Dysthymic disorder", 0.08, "78667006", "Dysthymia (disorder)"),
        V("F33.41", "Major depressive disorder, recurrent, in partial remission", 0.04, *_MDD),
        V("F33.2", "Major depressive disorder, recurrent severe without psychotic features", 0.03, *_MDD),
    ), resolve=0.12),
    ChronicDef("anxiety", "Anxiety disorders", 0.14, -2.794, 0.3, -0.2, 0.5, 0.8, 0.1, (("depression", 1.5),), (
        V("F41.9", "Anxiety disorder, unspecified", 0.55, "197480006", "Anxiety disorder (disorder)"),
        V("F41.1", "Generalized anxiety disorder", 0.35, "21897009", "Generalized anxiety disorder (disorder)"),
        V("F41.0", "Panic disorder [episodic paroxysmal anxiety]", 0.05, "371631005", "Panic disorder (disorder)"),
        V("F41.8", "Other specified anxiety disorders", 0.05, "197480006", "Anxiety disorder (disorder)"),
    ), resolve=0.12),
    ChronicDef("arthritis", "Rheumatoid arthritis/osteoarthritis", 0.32, -1.13, 0.4, 0.25, 0.4, 0.3, 0.0,
               (("obesity", 0.5),), (
        V("M17.0", "Bilateral primary osteoarthritis of knee", 0.20, "239873007", "Osteoarthritis of knee (disorder)",
          "knee"),
        V("M17.11", "Unilateral primary osteoarthritis, right knee", 0.10, "239873007",
          "Osteoarthritis of knee (disorder)", "knee"),
        V("M17.12", "Unilateral primary osteoarthritis, left knee", 0.08, "239873007",
          "Osteoarthritis of knee (disorder)", "knee"),
        V("M16.0", "Bilateral primary osteoarthritis of hip", 0.06, "239872002", "Osteoarthritis of hip (disorder)",
          "hip"),
        V("M16.11", "Unilateral primary osteoarthritis, right hip", 0.04, "239872002",
          "Osteoarthritis of hip (disorder)", "hip"),
        V("M19.90", "Unspecified osteoarthritis, unspecified site", 0.22, "396275006", "Osteoarthritis (disorder)"),
        V("M15.0", "Primary generalized (osteo)arthritis", 0.10, "396275006", "Osteoarthritis (disorder)"),
        V("M19.041", "Primary osteoarthritis, right hand", 0.03, "396275006", "Osteoarthritis (disorder)"),
        V("M06.9", "Rheumatoid arthritis, unspecified", 0.10 * 0.6, "69896004", "Rheumatoid arthritis (disorder)",
          "ra"),
        V("M05.79", "Rheumatoid arthritis with rheumatoid factor of multiple sites without organ or systems "
          "involvement", 0.10 * 0.3, "69896004", "Rheumatoid arthritis (disorder)", "ra"),
        V("M06.09", "Rheumatoid arthritis without rheumatoid factor, multiple sites", 0.10 * 0.1, "69896004",
          "Rheumatoid arthritis (disorder)", "ra"),
    )),
    ChronicDef("osteoporosis", "Osteoporosis", 0.075, -4.103, 0.35, 0.6, 1.9, 0.0, 0.3, (("obesity", -0.5),), (
        V("M81.0", "Age-related osteoporosis without current pathological fracture", 0.9, "64859006",
          "Osteoporosis (disorder)"),
        V("M81.8", "Other osteoporosis without current pathological fracture", 0.1, "64859006",
          "Osteoporosis (disorder)"),
    )),
    ChronicDef("hypothyroid", "Hypothyroidism", 0.15, -2.525, 0.2, 0.15, 1.2, 0.0, 0.0, (), (
        V("E03.9", "Hypothyroidism, unspecified", 0.9, "40930008", "Hypothyroidism (disorder)"),
        V("E89.0", "Postprocedural hypothyroidism", 0.1, "40930008", "Hypothyroidism (disorder)"),
    )),
    ChronicDef("cancer", "Cancer (breast, colorectal, prostate, lung, endometrial)", 0.08, -2.579, 0.35, 0.25,
               -0.2, 0.0, 0.35, (), (), resolve=0.15),
    ChronicDef("bph", "Benign prostatic hyperplasia", 0.14, -0.672, 0.2, 0.5, 0.0, -0.5, 0.0, (), (
        V("N40.0", "Benign prostatic hyperplasia without lower urinary tract symptoms", 0.5, "266569009",
          "Benign prostatic hyperplasia (disorder)"),
        V("N40.1", "Benign prostatic hyperplasia with lower urinary tract symptoms", 0.5, "266569009",
          "Benign prostatic hyperplasia (disorder)"),
    ), sex="male"),
    ChronicDef("gerd", "Gastro-esophageal reflux disease", 0.18, -1.901, 0.3, 0.0, 0.2, 0.3, 0.2,
               (("obesity", 0.4),), (
        V("K21.9", "Gastro-esophageal reflux disease without esophagitis", 0.9, "235595009",
          "Gastroesophageal reflux disease (disorder)"),
        V("K21.00", "Gastro-esophageal reflux disease with esophagitis, without bleeding", 0.1, "235595009",
          "Gastroesophageal reflux disease (disorder)"),
    ), core=False),
    ChronicDef("anemia", "Anemia", 0.12, -2.605, 0.5, 0.4, 0.2, 0.2, 0.0, (("ckd", 1.0), ("cancer", 0.6)), (
        V("D64.9", "Anemia, unspecified", 0.55, "271737000", "Anemia (disorder)"),
        V("D50.9", "Iron deficiency anemia, unspecified", 0.30, "87522002", "Iron deficiency anemia (disorder)",
          "iron"),
        V("D63.1", "Anemia in chronic kidney disease", 0.15, "271737000", "Anemia (disorder)", "ckd"),
    )),
    ChronicDef("glaucoma", "Glaucoma", 0.07, -2.727, 0.1, 0.5, 0.0, -0.3, 0.0, (("dm", 0.3),), (
        V("H40.1130", "Primary open-angle glaucoma, bilateral, stage unspecified", 0.5, "77075001",
          "Primary open angle glaucoma (disorder)"),
        V("H40.9", "Unspecified glaucoma", 0.3, "23986001", "Glaucoma (disorder)"),
        V("H40.1132", "Primary open-angle glaucoma, bilateral, moderate stage", 0.2, "77075001",
          "Primary open angle glaucoma (disorder)"),
    )),
    ChronicDef("osa", "Obstructive sleep apnea", 0.08, -2.817, 0.2, -0.3, -0.6, 0.3, 0.0, (("obesity", 1.5),), (
        V("G47.33", "Obstructive sleep apnea (adult) (pediatric)", 1.0, "78275009",
          "Obstructive sleep apnea syndrome (disorder)"),
    ), core=False),
    ChronicDef("pvd", "Peripheral vascular disease", 0.07, -3.735, 0.5, 0.35, -0.3, 0.0, 1.0,
               (("dm", 0.8), ("ihd", 0.6)), (
        V("I73.9", "Peripheral vascular disease, unspecified", 0.7, "400047006",
          "Peripheral vascular disease (disorder)"),
        V("I70.213", "Atherosclerosis of native arteries of extremities with intermittent claudication, bilateral "
          "legs", 0.3, "400047006", "Peripheral vascular disease (disorder)"),
    )),
    ChronicDef("gout", "Gout", 0.05, -2.932, 0.3, 0.2, -0.9, 0.0, 0.0, (("ckd", 0.8), ("obesity", 0.4)), (
        V("M10.9", "Gout, unspecified", 0.7, "90560007", "Gout (disorder)"),
        V("M1A.9XX0", "Chronic gout, unspecified, without tophus (tophi)", 0.3, "90560007", "Gout (disorder)"),
    ), core=False),
)
BY_KEY = {d.key: d for d in CATALOG}

CANCER_VARIANTS = {
    "female": (
        (V("C50.911", "Malignant neoplasm of unspecified site of right female breast", 1, "254837009",
           "Malignant neoplasm of breast (disorder)", "breast"), 0.27),
        (V("C50.912", "Malignant neoplasm of unspecified site of left female breast", 1, "254837009",
           "Malignant neoplasm of breast (disorder)", "breast"), 0.25),
        (V("C18.9", "Malignant neoplasm of colon, unspecified", 1, "363406005", "Malignant neoplasm of colon "
           "(disorder)", "colon"), 0.18),
        (V("C34.90", "Malignant neoplasm of unspecified part of unspecified bronchus or lung", 1, "", "", "lung"),
         0.12),
        (V("C54.1", "Malignant neoplasm of endometrium", 1, "", "", "endometrium"), 0.18),
    ),
    "male": (
        (V("C61", "Malignant neoplasm of prostate", 1, "399068003", "Malignant tumor of prostate (disorder)",
           "prostate"), 0.58),
        (V("C18.9", "Malignant neoplasm of colon, unspecified", 1, "363406005", "Malignant neoplasm of colon "
           "(disorder)", "colon"), 0.2),
        (V("C34.90", "Malignant neoplasm of unspecified part of unspecified bronchus or lung", 1, "", "", "lung"),
         0.14),
        (V("C34.11", "Malignant neoplasm of upper lobe, right bronchus or lung", 1, "", "", "lung"), 0.08),
    ),
}
EXTRA = {
    "old_mi": V("I25.2", "Old myocardial infarction", 1, "399211009", "History of myocardial infarction (situation)"),
    "insulin": V("Z79.4", "Long term (current) use of insulin", 1),
    "dialysis": V("Z99.2", "Dependence on renal dialysis", 1),
    "nicotine": V("F17.210", "Nicotine dependence, cigarettes, uncomplicated", 1),
    "former_smoker": V("Z87.891", "Personal history of nicotine dependence", 1),
}


@dataclass(frozen=True, slots=True)
class Demographics:
    age: int
    female: bool
    disabled: bool
    smoker: str  # never, former, current
    frailty: float


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _linear(d: ChronicDef, demo: Demographics, have: set[str]) -> float:
    x = (d.intercept + d.frailty * demo.frailty + d.age * (demo.age - 75) / 10.0
         + (d.female if demo.female else 0.0) + (d.disabled if demo.disabled else 0.0)
         + (d.smoker if demo.smoker != "never" else 0.0))
    for key, lor in d.deps:
        if key in have:
            x += lor
    return x


def draw_keys(rng: random.Random, demo: Demographics, intercepts: dict[str, float] | None = None) -> list[str]:
    """Which catalogue conditions the patient has, in catalogue order."""
    have: set[str] = set()
    order: list[str] = []
    sex = "female" if demo.female else "male"
    for d in CATALOG:
        if d.sex and d.sex != sex:
            continue
        x = _linear(d, demo, have)
        if intercepts is not None:
            x += intercepts[d.key] - d.intercept
        if rng.random() < _sigmoid(x):
            have.add(d.key)
            order.append(d.key)
    return order


def pick(rng: random.Random, variants: tuple[Variant, ...]) -> Variant:
    r = rng.random() * sum(v.weight for v in variants)
    for v in variants:
        r -= v.weight
        if r < 0:
            return v
    return variants[-1]


def choose_variant(rng: random.Random, key: str, keys: set[str], female: bool, smoker: str,
                   ckd: Variant | None) -> Variant:
    """The ICD-10-CM code for a drawn condition, aware of the combination codes EHRs use."""
    if key == "htn":
        if rng.random() < 0.25:
            return HTN_VARIANTS["I10"]
        stage5 = ckd is not None and ckd.tag in ("5", "esrd")
        if "hf" in keys and ckd is not None:
            return HTN_VARIANTS["I13.2" if stage5 else "I13.0"]
        if ckd is not None:
            return HTN_VARIANTS["I12.0" if stage5 else "I12.9"]
        if "hf" in keys:
            return HTN_VARIANTS["I11.0"]
        return HTN_VARIANTS["I10"]
    if key == "dm":
        if ckd is not None and rng.random() < 0.7:
            return DM_CKD
        if "pvd" in keys and rng.random() < 0.3:
            return DM_PVD
    if key == "anemia" and ckd is None:
        return pick(rng, BY_KEY["anemia"].variants[:2])
    if key == "cancer":
        options = CANCER_VARIANTS["female" if female else "male"]
        weights = [w * (2.5 if v.tag == "lung" and smoker != "never" else 1.0) for v, w in options]
        return rng.choices([v for v, _ in options], weights=weights)[0]
    return pick(rng, BY_KEY[key].variants)


def calibrate(sample_demographics: Callable[[random.Random], Demographics], *, n: int = 60_000,
              rounds: int = 12, seed: int = 0) -> dict[str, float]:
    """Intercepts that make the marginal prevalences over ``sample_demographics`` hit each ``target``.

    A development tool (the calibrated values are written into CATALOG); deterministic for a given seed.
    """
    intercepts = {d.key: d.intercept for d in CATALOG}
    rng = random.Random(seed)
    people = [sample_demographics(rng) for _ in range(n)]
    for _ in range(rounds):
        counts = dict.fromkeys(intercepts, 0)
        draw_rng = random.Random(seed + 1)
        for demo in people:
            for key in draw_keys(draw_rng, demo, intercepts):
                counts[key] += 1
        for d in CATALOG:
            denominator = sum(1 for p in people if not d.sex or (d.sex == "female") == p.female)
            observed = min(max(counts[d.key] / denominator, 1e-4), 1 - 1e-4)
            target = d.target if not d.sex else min(d.target * n / denominator, 0.95)
            intercepts[d.key] += math.log(target / (1 - target)) - math.log(observed / (1 - observed))
    return {k: round(v, 3) for k, v in intercepts.items()}
