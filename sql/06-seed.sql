-- Reference data of the pyxis service (the original team's seed).
-- Each insert skips rows whose unique key exists (WHERE NOT EXISTS, so no sequence value is
-- burnt on a re-run; ON CONFLICT covers a concurrent writer). Rows deleted through the
-- service come back on the next deploy; rows added here reach existing databases.
-- Links are matched by code/name, never by generated id.

\echo 'asky bootstrap: pyxis seed data'

INSERT INTO pyxis.dispenser (code, floor)
SELECT v.code, v.floor
FROM (VALUES
    ('A1B2C', 5),
    ('D3E4F', 11),
    ('G5H6I', 19),
    ('J7K8L', 1),
    ('M9N0O', 8)
) AS v (code, floor)
WHERE NOT EXISTS (SELECT 1 FROM pyxis.dispenser d WHERE d.code = v.code)
ON CONFLICT (code) DO NOTHING;

INSERT INTO pyxis.medicine (name, dosage)
SELECT v.name, v.dosage
FROM (VALUES
    ('Paracetamol', '500 mg'),
    ('Ibuprofeno', '200 mg'),
    ('Amoxicilina', '500 mg'),
    ('Dipirona', '500 mg'),
    ('Captopril', '25 mg'),
    ('Losartana', '50 mg'),
    ('Metformina', '500 mg'),
    ('Atorvastatina', '20 mg'),
    ('Sertralina', '50 mg'),
    ('Omeprazol', '20 mg')
) AS v (name, dosage)
WHERE NOT EXISTS (SELECT 1 FROM pyxis.medicine m WHERE m.name = v.name)
ON CONFLICT (name) DO NOTHING;

INSERT INTO pyxis.material (name)
SELECT v.name
FROM (VALUES
    ('Luvas de procedimento'),
    ('Seringas de 5ml'),
    ('Máscaras cirúrgicas'),
    ('Cateter IV'),
    ('Ataduras')
) AS v (name)
WHERE NOT EXISTS (SELECT 1 FROM pyxis.material m WHERE m.name = v.name)
ON CONFLICT (name) DO NOTHING;

INSERT INTO pyxis.assistance (description)
SELECT v.description
FROM (VALUES
    ('Manutenção'),
    ('Dúvidas'),
    ('Divergência')
) AS v (description)
WHERE NOT EXISTS (SELECT 1 FROM pyxis.assistance a WHERE a.description = v.description)
ON CONFLICT (description) DO NOTHING;

INSERT INTO pyxis.dispenser_medicine (dispenser_id, medicine_id)
SELECT d.id, m.id
FROM (VALUES
    ('A1B2C', 'Paracetamol'),
    ('A1B2C', 'Ibuprofeno'),
    ('A1B2C', 'Dipirona'),
    ('A1B2C', 'Captopril'),
    ('A1B2C', 'Losartana'),
    ('D3E4F', 'Omeprazol'),
    ('D3E4F', 'Captopril'),
    ('D3E4F', 'Dipirona'),
    ('D3E4F', 'Amoxicilina'),
    ('G5H6I', 'Dipirona'),
    ('J7K8L', 'Captopril'),
    ('M9N0O', 'Paracetamol')
) AS v (code, medicine)
JOIN pyxis.dispenser d ON d.code = v.code
JOIN pyxis.medicine m ON m.name = v.medicine
ON CONFLICT DO NOTHING;

INSERT INTO pyxis.dispenser_material (dispenser_id, material_id)
SELECT d.id, m.id
FROM (VALUES
    ('A1B2C', 'Luvas de procedimento'),
    ('A1B2C', 'Seringas de 5ml'),
    ('D3E4F', 'Seringas de 5ml'),
    ('D3E4F', 'Máscaras cirúrgicas'),
    ('G5H6I', 'Cateter IV'),
    ('J7K8L', 'Ataduras'),
    ('M9N0O', 'Luvas de procedimento')
) AS v (code, material)
JOIN pyxis.dispenser d ON d.code = v.code
JOIN pyxis.material m ON m.name = v.material
ON CONFLICT DO NOTHING;

INSERT INTO pyxis.dispenser_assistance (dispenser_id, assistance_id)
SELECT d.id, a.id
FROM (VALUES
    ('A1B2C', 'Manutenção'),
    ('A1B2C', 'Dúvidas'),
    ('A1B2C', 'Divergência'),
    ('D3E4F', 'Manutenção'),
    ('D3E4F', 'Dúvidas'),
    ('D3E4F', 'Divergência'),
    ('G5H6I', 'Manutenção'),
    ('G5H6I', 'Dúvidas'),
    ('G5H6I', 'Divergência')
) AS v (code, assistance)
JOIN pyxis.dispenser d ON d.code = v.code
JOIN pyxis.assistance a ON a.description = v.assistance
ON CONFLICT DO NOTHING;
