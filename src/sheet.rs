//! The shop's customer lists as files (CSV, as a spreadsheet saves it), read as text only:
//! which column is the number, name, time zone, language, notes, tags and consent, the rest
//! as custom fields; lines counted as the file counts them. Used by `smsq contacts import`
//! and the web page's import. Pure: bytes in, rows out.

use std::collections::BTreeMap;

/// Largest file read, and most rows.
pub const MAX_BYTES: usize = 10 * 1024 * 1024;
pub const MAX_ROWS: usize = 100_000;

/// One row of a customer list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SheetRow {
    /// Its line in the file.
    pub line: usize,
    pub number: String,
    pub name: Option<String>,
    pub time_zone: Option<String>,
    pub language: Option<String>,
    pub notes: Option<String>,
    pub tags: Vec<String>,
    pub fields: BTreeMap<String, String>,
    /// The consent column's yes or no, when the file has one.
    pub consent: Option<bool>,
}

/// The rows of a customer list, and whether it has a consent column.
pub fn read(bytes: &[u8]) -> Result<(Vec<SheetRow>, bool), String> {
    if bytes.len() > MAX_BYTES {
        return Err(format!(
            "{} MB: the limit is 10 MB (split it)",
            bytes.len() / 1_000_000
        ));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1;
        format!(
            "not UTF-8 (line {line}, byte {}): save it as \"CSV UTF-8\" and try again",
            e.valid_up_to()
        )
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| e.to_string())?
        .iter()
        .map(|h| h.trim().to_lowercase())
        .collect();
    let find = |names: &[&str]| headers.iter().position(|h| names.contains(&h.as_str()));
    let number = find(&["number", "phone", "mobile", "msisdn"]).ok_or_else(|| {
        "the header row has no number column (number, phone or mobile)".to_string()
    })?;
    let known = [
        ("name", find(&["name"])),
        ("time_zone", find(&["time_zone", "tz", "timezone"])),
        ("language", find(&["language", "lang"])),
        ("notes", find(&["notes", "note"])),
        ("tags", find(&["tags", "tag"])),
        ("consent", find(&["consent", "opt_in", "agreed"])),
    ];
    let col = |k: &str| known.iter().find(|(n, _)| *n == k).and_then(|(_, i)| *i);
    let used: Vec<usize> = known
        .iter()
        .filter_map(|(_, i)| *i)
        .chain([number])
        .collect();
    let mut rows = Vec::new();
    for (n, record) in reader.records().enumerate() {
        let record = record.map_err(|e| e.to_string())?;
        if rows.len() >= MAX_ROWS {
            return Err(format!("more than {MAX_ROWS} rows: split the file"));
        }
        // csv counts the line a record starts on from the header's end: the file's line is
        // one more.
        let line = record.position().map_or(n + 2, |p| p.line() as usize + 1);
        let cell = |i: Option<usize>| {
            i.and_then(|i| record.get(i))
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        let consent = match cell(col("consent")).map(|v| v.to_lowercase()) {
            None => None,
            Some(v) if ["yes", "y", "true", "1", "oo", "tak"].contains(&v.as_str()) => Some(true),
            Some(v) if ["no", "n", "false", "0", "hindi", "nie"].contains(&v.as_str()) => {
                Some(false)
            }
            Some(v) => {
                return Err(format!(
                    "line {line}: consent {:?} is neither yes nor no",
                    v.chars().take(20).collect::<String>()
                ));
            }
        };
        let fields = headers
            .iter()
            .enumerate()
            .filter(|(i, _)| !used.contains(i))
            .map(|(i, h)| (h.clone(), record.get(i).unwrap_or("").trim().to_string()))
            .filter(|(_, v)| !v.is_empty())
            .collect();
        rows.push(SheetRow {
            line,
            number: record.get(number).unwrap_or("").to_string(),
            name: cell(col("name")),
            time_zone: cell(col("time_zone")),
            language: cell(col("language")),
            notes: cell(col("notes")),
            tags: cell(col("tags"))
                .map(|t| {
                    t.split([';', ',', ' '])
                        .filter(|t| !t.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
            fields,
            consent,
        });
    }
    Ok((rows, col("consent").is_some()))
}
