//! Months of acceptance: the unit in which events are partitioned (PostgreSQL) and archived
//! (both engines). UTC calendar months, so that an operator reads a partition's name as a date.

/// The latest acceptance time that gets a month partition: its bounds stay below `i64::MAX`, the
/// largest PostgreSQL `BIGINT`.
pub const MAX_PARTITION_TIME: u64 = i64::MAX as u64 / 2;

/// The events partition for the month of `t` (Unix seconds, UTC): its name and bounds.
pub fn month_partition(t: u64) -> (String, u64, u64) {
    let (y, m) = year_month(t / 86_400);
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    (format!("events_{y:04}_{m:02}"), days_from_civil(y, m) * 86_400, days_from_civil(ny, nm) * 86_400)
}

/// The civil (proleptic Gregorian) year and month of day `z` after 1970-01-01.
fn year_month(z: u64) -> (u64, u64) {
    let z = z + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + u64::from(m <= 2), m)
}

/// Days from 1970-01-01 to the first of month `m` of year `y` (y ≥ 1970).
fn days_from_civil(y: u64, m: u64) -> u64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The bounds of a partition named by [`month_partition`], or `None` for any other name (a name
/// read back from the database is checked before it goes into a statement).
pub fn partition_bounds(name: &str) -> Option<(u64, u64)> {
    let (y, m) = name.strip_prefix("events_")?.split_once('_')?;
    if y.len() > 15 || m.len() != 2 || !y.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (y, m): (u64, u64) = (y.parse().ok()?, m.parse().ok()?);
    if y < 1970 || y > year_month(MAX_PARTITION_TIME / 86_400).0 || !(1..=12).contains(&m) {
        return None;
    }
    let (canonical, from, to) = month_partition(days_from_civil(y, m) * 86_400);
    (canonical == name).then_some((from, to))
}

/// The first second of the month of `t`.
pub fn month_start(t: u64) -> u64 {
    month_partition(t).1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn month_partitions_follow_the_calendar() {
        // 2022-06-14 (the fixtures' T0) is in June 2022: 2022-06-01 .. 2022-07-01.
        assert_eq!(month_partition(1_655_164_800), ("events_2022_06".into(), 1_654_041_600, 1_656_633_600));
        // 2024-02-29 23:59:59 is in February of a leap year; December rolls into January.
        assert_eq!(month_partition(1_709_251_199).0, "events_2024_02");
        assert_eq!(month_partition(1_703_980_800), ("events_2023_12".into(), 1_701_388_800, 1_704_067_200));
        assert_eq!(month_partition(0), ("events_1970_01".into(), 0, 2_678_400));
    }

    #[test]
    fn partition_names_read_back_to_their_bounds() {
        for t in [0, 1_655_164_800, 1_709_251_199, 1_703_980_800, MAX_PARTITION_TIME] {
            let (name, from, to) = month_partition(t);
            assert_eq!(partition_bounds(&name), Some((from, to)), "{name}");
            assert_eq!(month_start(t), from);
        }
        for bad in [
            "events_2022_13",
            "events_2022_00",
            "events_1969_12",
            "events_22_06",
            "events_2022_6",
            "events_2022_06; DROP TABLE holders",
            "holders",
            "events_+022_06",
            "events_2022_06_01",
            "events_02022_06",
            "events_999999999999999_01",
        ] {
            assert_eq!(partition_bounds(bad), None, "{bad}");
        }
    }
}
