/** The rules of PKS names and tags, shared by the program's configuration and pksctl's input checks. */

/** A cluster or network profile name. */
export const PKS_NAME = /^[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$/;
export const PKS_NAME_RULE = "1-63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit";
/** A tag value (`--tags key:value,…`): no quote, colon, comma or line break. */
export const PKS_TAG_PART = /^[^":,\r\n]+$/;
/** A tag key, which also starts the `--tags` value, so it must not start with '-'. */
export const PKS_TAG_KEY = /^[^-":,\r\n][^":,\r\n]*$/;
/**
 * Tag names BOSH sets on every VM itself; TKGI accepts custom tags with these names and ignores them
 * (tag-clusters.html.md.erb, "Tags Reserved for BOSH").
 */
export const BOSH_RESERVED_TAGS: readonly string[] = ["deployment", "director", "id", "index", "instance_group", "job", "name"];
