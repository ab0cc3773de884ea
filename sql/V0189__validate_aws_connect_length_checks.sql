-- Why: V0188 added aws_connect_instances_instance_arn_length_check and
-- aws_connect_instances_region_length_check NOT VALID. Validating them here scans the table under
-- SHARE UPDATE EXCLUSIVE: instances go on being read and written, and events applied, meanwhile.
-- It fails on a row whose ARN is over 256 characters or whose region is over 32: no such ARN is
-- an instance's, and the API could only have stored one from a made-up ARN (docs/changelog.md,
-- Operators: find and delete such rows before upgrading).
ALTER TABLE palisade.aws_connect_instances
    VALIDATE CONSTRAINT aws_connect_instances_instance_arn_length_check;
ALTER TABLE palisade.aws_connect_instances
    VALIDATE CONSTRAINT aws_connect_instances_region_length_check;
