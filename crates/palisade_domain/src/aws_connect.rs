//! Amazon Connect: an instance's ARN and region, as an organization registers them, and the
//! label of an instance or of an event credential.

use crate::ParseError;
use crate::text::{Lines, text_type};

text_type!(
    /// The display label of a registered Connect instance or of an event credential.
    ConnectLabel,
    200,
    Lines::One
);

/// An AWS region name (`us-east-1`, `eu-west-2`, `us-gov-west-1`): two letters, one or more
/// words, a digit, joined by hyphens; at most [`AwsRegion::MAX_CHARS`] characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsRegion(String);

impl AwsRegion {
    /// The longest region name accepted. AWS's longest are 14 characters (`ap-southeast-1`,
    /// `ap-northeast-1`); `sql/V0188__bound_aws_connect_arns_and_regions.sql` holds the table to
    /// the same bound.
    pub const MAX_CHARS: usize = 32;

    /// Parses a region name (exact: no trimming, lowercase only).
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        if s.chars().nth(Self::MAX_CHARS).is_some() {
            return Err(ParseError::too_long("is too long (at most 32 characters)"));
        }
        if is_region(s) {
            Ok(Self(s.to_owned()))
        } else {
            Err(ParseError::new("must be an AWS region such as us-east-1"))
        }
    }

    /// The region name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    let [country, words @ .., digit] = parts.as_slice() else {
        return false;
    };
    country.len() == 2
        && country.bytes().all(|b| b.is_ascii_lowercase())
        && !words.is_empty()
        && words
            .iter()
            .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase()))
        && digit.len() == 1
        && digit.bytes().all(|b| b.is_ascii_digit())
}

/// An Amazon Connect instance ARN:
/// `arn:<partition>:connect:<region>:<12-digit account>:instance/<lowercase UUID>`, where the
/// partition is `aws` or `aws-<words>` (`aws-us-gov`, `aws-cn`, `aws-iso-b`), the region shaped
/// as an [`AwsRegion`] (its length bounded by the whole's only: a registration also gives the
/// region, an [`AwsRegion`] that must be this one, so a longer one is refused there, on
/// `region`), the whole at most [`ConnectInstanceArn::MAX_CHARS`] characters. Exactly what the
/// CHECKs of `sql/V0145__create_aws_connect_instances.sql` and
/// `sql/V0188__bound_aws_connect_arns_and_regions.sql` accept on `instance_arn`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectInstanceArn {
    arn: String,
    /// Where the region starts and ends in `arn`.
    region: std::ops::Range<usize>,
}

impl ConnectInstanceArn {
    /// The longest ARN accepted. A real instance ARN is about 90 characters (AWS's longest
    /// partition, `aws-us-gov`, is 10, its longest region 14); unbounded, a long partition made
    /// a key over PostgreSQL's limit for the btree of `aws_connect_instances_instance_arn_key`
    /// (SQLSTATE 54000: a 500 where a 422 was due).
    pub const MAX_CHARS: usize = 256;

    /// Parses an instance ARN (exact: no trimming).
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        if s.chars().nth(Self::MAX_CHARS).is_some() {
            return Err(ParseError::too_long("is too long (at most 256 characters)"));
        }
        const BAD: ParseError = ParseError::new(
            "must be an Amazon Connect instance ARN: arn:aws:connect:<region>:<account>:instance/<id>",
        );
        let parts: Vec<&str> = s.split(':').collect();
        let ["arn", partition, "connect", region, account, resource] = parts.as_slice() else {
            return Err(BAD);
        };
        let partition_ok = partition.strip_prefix("aws").is_some_and(|rest| {
            rest.is_empty()
                || rest
                    .split('-')
                    .skip(1)
                    .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase()))
                    && rest.starts_with('-')
        });
        let account_ok = account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit());
        let id_ok = resource.strip_prefix("instance/").is_some_and(|id| {
            uuid::Uuid::try_parse(id).is_ok_and(|u| u.hyphenated().to_string() == id)
        });
        if partition_ok && account_ok && id_ok && is_region(region) {
            let start = "arn:".len() + partition.len() + ":connect:".len();
            Ok(Self {
                arn: s.to_owned(),
                region: start..start + region.len(),
            })
        } else {
            Err(BAD)
        }
    }

    /// The ARN.
    pub fn as_str(&self) -> &str {
        &self.arn
    }

    /// The region the ARN names (shaped as an [`AwsRegion`], not bounded as one).
    pub fn region(&self) -> &str {
        &self.arn[self.region.clone()]
    }
}

crate::parse_with_inherent!(AwsRegion, ConnectInstanceArn);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ParseKind;

    const GOOD: &str =
        "arn:aws:connect:us-west-2:123456789012:instance/12345678-1234-1234-1234-123456789012";

    #[test]
    fn accepts_instance_arns_of_every_partition() {
        let parsed = ConnectInstanceArn::parse(GOOD);
        assert_eq!(
            parsed.as_ref().map(|a| (a.as_str(), a.region())),
            Ok((GOOD, "us-west-2"))
        );
        for (ok, region) in [
            (
                "arn:aws-us-gov:connect:us-gov-west-1:123456789012:instance/12345678-1234-1234-1234-123456789012",
                "us-gov-west-1",
            ),
            (
                "arn:aws-cn:connect:cn-north-1:123456789012:instance/12345678-1234-1234-1234-123456789012",
                "cn-north-1",
            ),
        ] {
            assert_eq!(
                ConnectInstanceArn::parse(ok).map(|a| a.region().to_owned()),
                Ok(region.to_owned()),
                "{ok}"
            );
        }
    }

    #[test]
    fn refuses_anything_else() {
        for bad in [
            "",
            " arn:aws:connect:us-west-2:123456789012:instance/12345678-1234-1234-1234-123456789012",
            // AWS's own documentation samples spell `arn:aws::connect` (an empty field): not an ARN.
            "arn:aws::connect:us-west-2:123456789012:instance/12345678-1234-1234-1234-123456789012",
            "arn:aws:connect:us-west-2:12345678901:instance/12345678-1234-1234-1234-123456789012",
            "arn:aws:connect:us-west-2:123456789012:instance/12345678-1234-1234-1234-12345678901Z",
            "arn:aws:connect:us-west-2:123456789012:instance/12345678-1234-1234-1234-123456789012/queue/x",
            "arn:aws:connect:US-WEST-2:123456789012:instance/12345678-1234-1234-1234-123456789012",
            "arn:aws:s3:us-west-2:123456789012:instance/12345678-1234-1234-1234-123456789012",
            "arn:awsx:connect:us-west-2:123456789012:instance/12345678-1234-1234-1234-123456789012",
            "arn:aws-:connect:us-west-2:123456789012:instance/12345678-1234-1234-1234-123456789012",
            "arn:aws:connect:us-west-2:123456789012:agent/12345678-1234-1234-1234-123456789012",
        ] {
            assert!(ConnectInstanceArn::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn regions() {
        for ok in ["us-east-1", "eu-west-2", "ap-southeast-1", "us-gov-west-1"] {
            assert!(AwsRegion::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "us",
            "us-east",
            "us-east-12",
            "US-east-1",
            "use-east-1",
            "us--1",
        ] {
            assert!(AwsRegion::parse(bad).is_err(), "{bad}");
        }
    }

    /// The bounds: an ARN of 256 characters and a region of 32 are taken, one more is refused
    /// as too long (unbounded, a long partition made a key over PostgreSQL's btree limit).
    #[test]
    fn lengths() {
        let arn = |partition_words: usize, region_words: usize| {
            format!(
                "arn:aws-{}:connect:us-{}-1:123456789012:instance/12345678-1234-1234-1234-123456789012",
                "q".repeat(partition_words),
                "z".repeat(region_words)
            )
        };
        let longest = arn(256 - arn(0, 1).len(), 1);
        assert_eq!(longest.len(), ConnectInstanceArn::MAX_CHARS);
        assert!(ConnectInstanceArn::parse(&longest).is_ok());
        let over = arn(256 - arn(0, 1).len() + 1, 1);
        assert_eq!(
            ConnectInstanceArn::parse(&over).map_err(|e| e.kind()),
            Err(ParseKind::TooLong)
        );
        let region = |words: usize| format!("us-{}-1", "z".repeat(words));
        assert_eq!(region(27).len(), AwsRegion::MAX_CHARS);
        assert!(AwsRegion::parse(&region(27)).is_ok());
        assert!(ConnectInstanceArn::parse(&arn(1, 27)).is_ok());
        assert_eq!(
            AwsRegion::parse(&region(28)).map_err(|e| e.kind()),
            Err(ParseKind::TooLong)
        );
        // Within an ARN, a region over its bound is bounded by the ARN's only (a registration
        // refuses it on `region`, which must be this region and an AwsRegion).
        assert_eq!(
            ConnectInstanceArn::parse(&arn(1, 28)).map(|a| a.region().to_owned()),
            Ok(region(28))
        );
    }
}
