import type { MongoQuery } from "../config/config-schema.js";

/**
 * What the Domino registry cleaner reads (SEEDS 004): the image of every environment revision
 * (`metadata.dockerImageName.{repository,tag}`) and of every model version build
 * (`metadata.builds.slug.image.tag`, in Domino's model repository). This first cut protects every
 * image the database records at all — where it is unsure whether something uses an image, it
 * keeps; the finer rules (revisions used only by runs older than N days, private environments of
 * deactivated users) would let some of these go and are not applied yet.
 */
export function dominoQueries(): MongoQuery[] {
  return [
    {
      collection: "environment_revisions",
      image: { repository: "metadata.dockerImageName.repository", tag: "metadata.dockerImageName.tag" },
    },
    {
      collection: "model_versions",
      image: { repositoryPrefix: "dominodatalab/model", tag: "metadata.builds.slug.image.tag" },
    },
  ];
}
