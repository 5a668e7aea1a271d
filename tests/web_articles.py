"""Invented case-report articles for the web-chrome measurement (ground truth).

Realistic but fictional clinical prose written for these tests: no patient, author or
journal here is real. Each article is (title, [(heading, [paragraph, ...]), ...]).
"""

from __future__ import annotations

Article = tuple[str, list[tuple[str, list[str]]]]

ARTICLES: list[Article] = [
    (
        "Splenic abscess complicating infective endocarditis in a young injecting drug user",
        [
            (
                "Case presentation",
                [
                    "A 27-year-old man who injected heroin presented with ten days of fever, "
                    "rigors and left upper quadrant pain that worsened on deep inspiration. "
                    "He was tachycardic at 118 beats per minute and had a new pansystolic murmur "
                    "at the left sternal edge.",
                    "Three sets of blood cultures grew methicillin-sensitive Staphylococcus "
                    "aureus. Transthoracic echocardiography showed a 14 mm vegetation on the "
                    "tricuspid valve, and contrast-enhanced computed tomography of the abdomen "
                    "revealed a 6 cm multiloculated collection in the spleen.",
                ],
            ),
            (
                "Management",
                [
                    "He received intravenous flucloxacillin, and the collection was drained "
                    "percutaneously under ultrasound guidance on the fourth day. The drain "
                    "fluid grew the same organism, and the fever settled within a week.",
                ],
            ),
            (
                "Discussion",
                [
                    "Splenic abscess is an uncommon complication of endocarditis and is easily "
                    "missed because the abdominal signs are overshadowed by the cardiac "
                    "illness. Persistent fever despite appropriate antibiotics should prompt "
                    "imaging of the abdomen.",
                ],
            ),
        ],
    ),
    (
        "Painless jaundice revealing a biliary stent migrated into the duodenal wall",
        [
            (
                "Background",
                [
                    "Plastic biliary stents are usually exchanged every three months because "
                    "they occlude. Migration is reported in up to one tenth of patients but "
                    "rarely causes a perforation.",
                ],
            ),
            (
                "Case report",
                [
                    "A 74-year-old woman with a plastic stent placed for a benign bile duct "
                    "stricture returned eight months later with painless jaundice and pale "
                    "stools. Her bilirubin was 212 micromoles per litre and her alkaline "
                    "phosphatase was four times the upper limit of normal.",
                    "Endoscopy found the distal end of the stent embedded in the opposite "
                    "duodenal wall with surrounding granulation tissue. The stent was "
                    "withdrawn with a snare, and a fully covered metal stent was placed across "
                    "the stricture.",
                    "Her jaundice resolved over three weeks, and she remained well at six "
                    "months with normal liver tests.",
                ],
            ),
            (
                "Conclusion",
                [
                    "Forgotten biliary stents can erode into neighbouring structures, so every "
                    "patient with a stent needs a documented date for its removal.",
                ],
            ),
        ],
    ),
    (
        "Sudden sensorineural hearing loss as the first sign of a vestibular schwannoma",
        [
            (
                "Introduction",
                [
                    "Most sudden sensorineural hearing loss is idiopathic, yet a small "
                    "proportion of patients harbour a tumour of the cerebellopontine angle.",
                ],
            ),
            (
                "Case presentation",
                [
                    "A 46-year-old accountant woke with muffled hearing and tinnitus in his "
                    "right ear. Pure tone audiometry showed a 55 decibel loss across the "
                    "middle frequencies, and he was given oral prednisolone for ten days.",
                    "His hearing recovered only partially, so magnetic resonance imaging was "
                    "requested at the follow-up visit. It showed an 11 mm enhancing lesion "
                    "within the right internal auditory canal.",
                    "After discussion of the options he chose serial imaging, and the lesion "
                    "had not grown on two scans a year apart.",
                ],
            ),
            (
                "Discussion",
                [
                    "A partial recovery of hearing does not exclude a schwannoma. We suggest "
                    "that every adult with unilateral sudden hearing loss has magnetic "
                    "resonance imaging of the internal auditory canals.",
                ],
            ),
        ],
    ),
    (
        "Gonococcal septic arthritis of the knee in a patient taking methotrexate",
        [
            (
                "Case presentation",
                [
                    "A 31-year-old woman with psoriatic arthritis on weekly methotrexate "
                    "developed a hot, swollen right knee over two days. She also had a "
                    "scattering of painful pustules on her forearms and a low-grade fever.",
                    "Aspiration yielded 60 millilitres of turbid fluid with 78,000 white cells "
                    "per microlitre. Gram staining showed intracellular diplococci, and "
                    "nucleic acid testing of a cervical swab was positive for Neisseria "
                    "gonorrhoeae.",
                ],
            ),
            (
                "Treatment and outcome",
                [
                    "Methotrexate was paused and she received intravenous ceftriaxone for "
                    "seven days with an arthroscopic washout on the first day. Her partner "
                    "was traced and treated.",
                    "The knee regained a full range of movement by six weeks, and "
                    "methotrexate was restarted once the infection had cleared.",
                ],
            ),
            (
                "Discussion",
                [
                    "A flare of inflammatory arthritis and a septic joint can look alike. "
                    "Skin pustules and tenosynovitis point towards disseminated gonococcal "
                    "infection, which remains sensitive to third generation cephalosporins.",
                ],
            ),
        ],
    ),
    (
        "Wolff-Parkinson-White syndrome unmasked by atrial fibrillation in a cyclist",
        [
            (
                "Case report",
                [
                    "A 39-year-old competitive cyclist felt sudden palpitations during a "
                    "hill climb and arrived at the emergency department with a broad complex "
                    "irregular tachycardia at 240 beats per minute.",
                    "His blood pressure was maintained, and he was given intravenous "
                    "procainamide, after which sinus rhythm returned. The resting "
                    "electrocardiogram then showed a short PR interval and a delta wave.",
                    "An electrophysiology study located a left lateral accessory pathway, "
                    "which was ablated with radiofrequency energy at the first attempt.",
                ],
            ),
            (
                "Discussion",
                [
                    "Drugs that block the atrioventricular node, such as verapamil or "
                    "digoxin, can accelerate conduction through an accessory pathway during "
                    "atrial fibrillation. Pre-excited atrial fibrillation should be "
                    "recognised by its irregularity and varying QRS width.",
                ],
            ),
        ],
    ),
    (
        "Rhegmatogenous retinal detachment after blunt trauma from a squash ball",
        [
            (
                "Abstract",
                [
                    "We describe a young squash player who lost vision in one eye ten days "
                    "after being hit by a ball, and the surgery that restored it.",
                ],
            ),
            (
                "Case presentation",
                [
                    "A 24-year-old postgraduate student was struck in the left eye by a squash "
                    "ball and was seen the same evening with a hyphaema and normal retina. "
                    "Ten days later he noticed a dark curtain spreading from the lower field "
                    "of vision.",
                    "Dilated fundoscopy showed a superior retinal detachment extending to the "
                    "macula, with a large dialysis at the ora serrata.",
                    "He underwent pars plana vitrectomy with gas tamponade and posturing for "
                    "one week. His visual acuity recovered to 6/9 at three months.",
                ],
            ),
            (
                "Discussion",
                [
                    "Retinal dialysis after blunt trauma may declare itself days or weeks "
                    "later, which is why protective eyewear is advised in squash and why "
                    "injured players need a dilated review.",
                ],
            ),
        ],
    ),
    (
        "Loeffler syndrome after travel presenting as migratory pulmonary infiltrates",
        [
            (
                "Case presentation",
                [
                    "A 52-year-old engineer returned from a month of fieldwork in rural "
                    "Southeast Asia with a dry cough, wheeze and low-grade fever. His chest "
                    "radiograph showed patchy infiltrates in the right upper zone.",
                    "A second radiograph five days later showed that the shadowing had moved "
                    "to the left lower zone. His eosinophil count was 3.4 times ten to the "
                    "ninth per litre, and strongyloides serology was negative.",
                    "Stool microscopy two months later found ascaris eggs. He was treated "
                    "with a single dose of albendazole, and the cough resolved.",
                ],
            ),
            (
                "Discussion",
                [
                    "Transient eosinophilic infiltrates follow the passage of larvae through "
                    "the lungs, and the eggs appear in the stool only weeks later. Serial "
                    "stool samples are therefore needed when the first is negative.",
                ],
            ),
        ],
    ),
    (
        "Spontaneous coronary artery dissection in the early postpartum period",
        [
            (
                "Introduction",
                [
                    "Spontaneous coronary artery dissection causes a large share of heart "
                    "attacks in women under fifty, particularly around pregnancy.",
                ],
            ),
            (
                "Case presentation",
                [
                    "Eleven days after an uncomplicated delivery, a 34-year-old woman "
                    "developed crushing central chest pain while feeding her baby. Her "
                    "troponin rose to 4,200 nanograms per litre, with anterior ST elevation on "
                    "the electrocardiogram.",
                    "Angiography showed a long smooth narrowing of the left anterior "
                    "descending artery, and intravascular imaging confirmed an intramural "
                    "haematoma without an atherosclerotic plaque.",
                    "Because flow was preserved she was managed without stenting, on aspirin "
                    "and a beta blocker. Repeat angiography at four months showed complete "
                    "healing of the vessel.",
                ],
            ),
            (
                "Discussion",
                [
                    "Conservative management is preferred when flow is preserved, since "
                    "stenting a dissected artery risks propagating the tear.",
                ],
            ),
        ],
    ),
    (
        "Tinea incognito misdiagnosed as discoid eczema for eight months",
        [
            (
                "Case presentation",
                [
                    "A 58-year-old gardener was treated with a potent topical steroid for a "
                    "presumed discoid eczema on his forearm. The rash spread despite eight "
                    "months of treatment and lost its scaly edge.",
                    "Skin scrapings showed fungal hyphae on microscopy, and Trichophyton "
                    "rubrum grew in culture. The steroid was stopped, and he was given oral "
                    "terbinafine for four weeks with complete clearance.",
                ],
            ),
            (
                "Learning points",
                [
                    "Topical steroids suppress inflammation and change the appearance of a "
                    "fungal infection. Any annular rash that fails to respond to steroids "
                    "should be scraped before the treatment is escalated.",
                ],
            ),
        ],
    ),
    (
        "Thoracic meningioma presenting as progressive spastic paraparesis",
        [
            (
                "Case report",
                [
                    "A 66-year-old retired teacher had two years of increasing stiffness in "
                    "her legs, which she attributed to arthritis. She began to fall and "
                    "needed a frame to walk.",
                    "Examination showed spasticity of both legs with brisk reflexes, "
                    "extensor plantar responses and a sensory level at the umbilicus. "
                    "Magnetic resonance imaging demonstrated a dural-based lesion at the T8 "
                    "level compressing the cord.",
                    "A laminectomy and complete excision were performed. Histology confirmed "
                    "a transitional meningioma, and she walked unaided at her six month "
                    "review.",
                ],
            ),
            (
                "Discussion",
                [
                    "Slowly growing spinal tumours produce a gradual myelopathy that is "
                    "often blamed on age or degenerative disease, so a sensory level on "
                    "examination deserves urgent imaging.",
                ],
            ),
        ],
    ),
    (
        "Hereditary haemorrhagic telangiectasia diagnosed after recurrent epistaxis",
        [
            (
                "Case presentation",
                [
                    "A 43-year-old shop manager had suffered nosebleeds since childhood and "
                    "had been transfused four times for iron deficiency anaemia. His mother "
                    "had died of a brain abscess.",
                    "Small red telangiectasias were visible on his lips, tongue and "
                    "fingertips. Bubble echocardiography showed a late shunt, and computed "
                    "tomography confirmed a pulmonary arteriovenous malformation.",
                    "The malformation was closed by embolisation, and he was started on oral "
                    "iron and tranexamic acid for the epistaxis.",
                ],
            ),
            (
                "Discussion",
                [
                    "Pulmonary malformations in this condition allow bacteria and clots to "
                    "bypass the lungs, which explains strokes and brain abscesses in affected "
                    "families. Screening of first degree relatives is recommended.",
                ],
            ),
        ],
    ),
    (
        "Emphysematous cholecystitis in an elderly man with diabetes",
        [
            (
                "Background",
                [
                    "Gas in the wall of the gallbladder signals an infection with gas-forming "
                    "organisms and a high risk of perforation.",
                ],
            ),
            (
                "Case presentation",
                [
                    "A 79-year-old man with poorly controlled type 2 diabetes presented with "
                    "a day of right upper quadrant pain and vomiting. He was hypotensive, and "
                    "his white cell count was 21 times ten to the ninth per litre.",
                    "Ultrasound was limited by bowel gas, but computed tomography showed gas "
                    "within a thickened gallbladder wall without stones.",
                    "He underwent open cholecystectomy the same night. Clostridium "
                    "perfringens grew from the bile, and he was discharged after twelve days.",
                ],
            ),
            (
                "Conclusion",
                [
                    "Early surgery or drainage is advised because the mortality of this "
                    "condition is several times that of ordinary cholecystitis.",
                ],
            ),
        ],
    ),
    (
        "Bilateral pleural effusions caused by a ventriculoperitoneal shunt",
        [
            (
                "Case presentation",
                [
                    "A 19-year-old woman with a ventriculoperitoneal shunt for congenital "
                    "hydrocephalus presented with breathlessness that had built up over a "
                    "month. Her chest radiograph showed large effusions on both sides.",
                    "Thoracentesis drained clear fluid with a low protein content, and beta-2 "
                    "transferrin was detected, identifying it as cerebrospinal fluid. Imaging "
                    "showed that the distal catheter had perforated the diaphragm.",
                    "The shunt was revised to the peritoneum under laparoscopic vision, and "
                    "the effusions did not return.",
                ],
            ),
            (
                "Discussion",
                [
                    "Cerebrospinal fluid effusions are rare but should be considered in any "
                    "patient with a shunt and an unexplained transudate.",
                ],
            ),
        ],
    ),
    (
        "Thrombotic thrombocytopenic purpura presenting with confusion and fever",
        [
            (
                "Case report",
                [
                    "A 37-year-old nurse was brought in by her husband because she had become "
                    "confused and forgetful over two days. She was febrile and had "
                    "scattered petechiae on her legs.",
                    "Her platelet count was 11 times ten to the ninth per litre with "
                    "fragmented red cells on the blood film, a raised lactate dehydrogenase "
                    "and normal clotting. ADAMTS13 activity was undetectable.",
                    "Daily plasma exchange and corticosteroids were started within hours, "
                    "and caplacizumab was added. Her confusion cleared on the third day.",
                    "Treatment given in the first week:",
                    "Plasma exchange, one plasma volume daily",
                    "Methylprednisolone 1 g daily for three days",
                    "Caplacizumab 10 mg daily",
                ],
            ),
            (
                "Discussion",
                [
                    "Untreated, this disease is usually fatal, yet plasma exchange reverses "
                    "it in most patients. Thrombocytopenia with haemolysis and neurological "
                    "change is an emergency even before the enzyme assay returns.",
                ],
            ),
        ],
    ),
    (
        "Iron deficiency anaemia from a Meckel diverticulum in a teenage boy",
        [
            (
                "Case presentation",
                [
                    "A 15-year-old boy was referred with tiredness and a haemoglobin of 71 "
                    "grams per litre. He denied abdominal pain but recalled two episodes of "
                    "dark red stools during the previous winter. His blood tests showed:",
                    "Haemoglobin 71 g/L",
                    "Mean cell volume 64 fL",
                    "Ferritin 3 micrograms per litre",
                    "Upper endoscopy and colonoscopy were normal. A technetium pertechnetate "
                    "scan showed a focus of uptake in the right lower abdomen, consistent "
                    "with ectopic gastric mucosa.",
                    "Laparoscopy found a diverticulum 60 centimetres from the ileocaecal "
                    "valve, which was resected with a short segment of ileum.",
                ],
            ),
            (
                "Discussion",
                [
                    "Acid secreted by ectopic gastric mucosa ulcerates the adjacent ileum and "
                    "causes painless bleeding, most often in children and young adults.",
                ],
            ),
        ],
    ),
    (
        "Guillain-Barre syndrome following Campylobacter enteritis",
        [
            (
                "Case presentation",
                [
                    "Two weeks after a bout of bloody diarrhoea, a 48-year-old chef noticed "
                    "tingling in his feet that ascended to his knees within three days. He "
                    "then found it hard to climb stairs.",
                    "He had symmetrical weakness of the legs and absent ankle and knee "
                    "reflexes. Nerve conduction studies showed an acute motor axonal "
                    "neuropathy, and the cerebrospinal fluid protein was raised without cells.",
                    "He received intravenous immunoglobulin for five days. His forced vital "
                    "capacity was monitored twice daily and never fell below two litres.",
                ],
            ),
            (
                "Outcome",
                [
                    "He walked independently at three months but still had weakness of "
                    "ankle dorsiflexion at one year, in keeping with the slower recovery of "
                    "the axonal form.",
                ],
            ),
        ],
    ),
    (
        "Lyme carditis with complete heart block in a hiker",
        [
            (
                "Case report",
                [
                    "A 29-year-old woman fainted twice in a week after a walking holiday in "
                    "woodland. She remembered a spreading red rash on her thigh that had "
                    "faded without treatment.",
                    "Her electrocardiogram showed complete heart block with a ventricular "
                    "escape rhythm of 38 beats per minute. Borrelia serology was positive for "
                    "both IgM and IgG antibodies.",
                    "A temporary pacing wire was inserted, and she was treated with "
                    "intravenous ceftriaxone. Atrioventricular conduction returned to normal "
                    "within eight days, and no permanent pacemaker was needed.",
                ],
            ),
            (
                "Discussion",
                [
                    "Heart block caused by Lyme disease is usually reversible with "
                    "antibiotics, so a permanent device should be deferred while treatment "
                    "takes effect.",
                ],
            ),
        ],
    ),
    (
        "Hypokalaemic periodic paralysis revealing thyrotoxicosis",
        [
            (
                "Case presentation",
                [
                    "A 26-year-old man woke at night unable to move his arms or legs after an "
                    "evening meal rich in carbohydrates. He had lost weight and felt anxious "
                    "for several months.",
                    "His serum potassium was 1.9 millimoles per litre, his free thyroxine was "
                    "raised and his thyroid stimulating hormone was suppressed. Thyroid "
                    "receptor antibodies were positive.",
                    "Cautious potassium replacement restored his strength within hours, and "
                    "propranolol and carbimazole were started to prevent further attacks.",
                ],
            ),
            (
                "Discussion",
                [
                    "Thyrotoxic periodic paralysis is caused by a shift of potassium into the "
                    "cells rather than by a loss, so aggressive replacement risks rebound "
                    "hyperkalaemia once the attack ends.",
                ],
            ),
        ],
    ),
    (
        "Methaemoglobinaemia after topical benzocaine before endoscopy",
        [
            (
                "Case report",
                [
                    "A 61-year-old woman became grey and breathless minutes after her throat "
                    "was sprayed with benzocaine before a transoesophageal echocardiogram. "
                    "Her pulse oximetry read 85 percent despite high-flow oxygen.",
                    "Arterial blood looked chocolate brown, and co-oximetry showed a "
                    "methaemoglobin fraction of 32 percent while the arterial oxygen tension "
                    "was normal.",
                    "She was given intravenous methylene blue, and the methaemoglobin fell "
                    "below 3 percent within an hour.",
                ],
            ),
            (
                "Discussion",
                [
                    "A gap between the saturation measured by the oximeter and the oxygen "
                    "tension in arterial blood should raise the suspicion of an abnormal "
                    "haemoglobin.",
                ],
            ),
        ],
    ),
    (
        "Pyogenic liver abscess due to Klebsiella pneumoniae with endophthalmitis",
        [
            (
                "Case presentation",
                [
                    "A 55-year-old man with diabetes presented with fever and pain under the "
                    "right ribs. The next morning he complained of a painful red left eye with "
                    "blurred vision.",
                    "Computed tomography showed a 7 cm abscess in the right lobe of the liver, "
                    "and hypermucoviscous Klebsiella pneumoniae grew from the blood. "
                    "Ophthalmic examination found a hypopyon and vitreous inflammation.",
                    "The abscess was drained, and he received intravenous ceftriaxone with "
                    "intravitreal antibiotics. His eye was saved, but vision remained limited "
                    "to counting fingers.",
                ],
            ),
            (
                "Discussion",
                [
                    "Invasive strains of this organism spread from the liver to the eye, "
                    "lung and brain. Eye symptoms in a patient with a liver abscess call for "
                    "an ophthalmologist on the same day.",
                ],
            ),
        ],
    ),
    (
        "Acute intermittent porphyria mistaken for appendicitis",
        [
            (
                "Case presentation",
                [
                    "A 22-year-old woman had her appendix removed for severe abdominal pain, "
                    "but the histology was normal and the pain persisted after surgery. She "
                    "became hyponatraemic and developed weakness of her arms.",
                    "Her urine darkened on standing, and the urinary porphobilinogen was "
                    "markedly raised. A pathogenic variant in the hydroxymethylbilane "
                    "synthase gene was later found.",
                    "Intravenous haem arginate relieved the pain within three days, and the "
                    "oral contraceptive pill that had triggered the attack was stopped.",
                ],
            ),
            (
                "Differential diagnosis",
                [
                    "Conditions considered before the diagnosis was made:",
                    "Acute appendicitis",
                    "Ovarian torsion",
                    "Lead poisoning",
                    "Familial Mediterranean fever",
                ],
            ),
            (
                "Conclusion",
                [
                    "Recurrent unexplained abdominal pain with hyponatraemia or neuropathy "
                    "should lead to a urine porphobilinogen test before further surgery.",
                ],
            ),
        ],
    ),
    (
        "Stroke in a young adult caused by a patent foramen ovale and a long flight",
        [
            (
                "Case report",
                [
                    "A 33-year-old software developer developed slurred speech and right arm "
                    "weakness on the day after a fourteen hour flight. Imaging showed an "
                    "acute infarct in the left middle cerebral artery territory.",
                    "Duplex ultrasound found a thrombus in the left calf veins, and bubble "
                    "contrast echocardiography showed a large right-to-left shunt through a "
                    "patent foramen ovale.",
                    "He recovered almost fully with rehabilitation, and the foramen was "
                    "closed percutaneously after three months of anticoagulation.",
                ],
            ),
            (
                "Discussion",
                [
                    "Paradoxical embolism requires a venous clot and a shunt at the same "
                    "time. In young patients with a cryptogenic stroke the leg veins deserve "
                    "a search as careful as the heart.",
                ],
            ),
        ],
    ),
]
