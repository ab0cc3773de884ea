-- Why: V0145's CHECKs on aws_connect_instances accept an instance ARN and a region of any length
-- (the partition `aws-<words>` and the region's words may be as long as one likes), and the ARN
-- is a key of the btree behind aws_connect_instances_instance_arn_key. An ARN of a few thousand
-- characters (random letters: repeated ones compress below the limit) made an index row over
-- PostgreSQL's maximum for a btree (SQLSTATE 54000), which the API answered 500 with an ERROR in
-- the log, where a 422 was due. The API now refuses an ARN over 256 characters and a region over
-- 32 (palisade_domain's ConnectInstanceArn and AwsRegion; AWS's real instance ARNs are about 90
-- characters, its longest region name 14), and the table holds every writer to the same bounds.
--
-- Added NOT VALID, like V0170 and V0172, so that this migration only changes the catalog under
-- its ACCESS EXCLUSIVE lock; V0189 validates them without blocking reads or writes
-- (docs/adding-a-resource.md). A row over either bound names no instance AWS has; V0189 fails
-- on one (docs/changelog.md, Operators, says how to find it before upgrading).
ALTER TABLE palisade.aws_connect_instances
    ADD CONSTRAINT aws_connect_instances_instance_arn_length_check
        CHECK (char_length(instance_arn) <= 256) NOT VALID,
    ADD CONSTRAINT aws_connect_instances_region_length_check
        CHECK (char_length(region) <= 32) NOT VALID;
