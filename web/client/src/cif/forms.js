// forms.js: Microsoft.CIFramework's navigation methods (openForm,
// refreshForm, renderSearchPage).

/** @param {{send: Function, reject: Function, shape: any, isBlank: Function}} ctx */
export function forms({ send, reject, shape, isBlank }) {
  return {
    openForm(entityFormOptions, entityFormParameters) {
      if (isBlank(entityFormOptions)) {
        return reject("openForm", "The EntityFormOptions parameter is blank. Provide a value to the parameter.");
      }
      const params = { entityFormOptions };
      if (entityFormParameters !== undefined) params.entityFormParameters = entityFormParameters;
      // CIF posts openForm with noTimeout: no client timer either.
      return send("openForm", "cif.openform", params, shape.str, { timeoutMs: null });
    },
    refreshForm(save) {
      const params = save === undefined ? {} : { save: !!save };
      return send("refreshForm", "cif.refreshform", params, shape.str);
    },
    renderSearchPage(entityName, searchString) {
      if (isBlank(entityName)) {
        return reject("renderSearchPage", "The EntityName Parameter is blank. Provide a value to the parameter");
      }
      if (searchString === null || searchString === undefined) {
        return reject("renderSearchPage", "The SearchString Parameter cannot be NULL");
      }
      return send("renderSearchPage", "cif.renderSearchPage", { entityName, searchString }, shape.none);
    },
  };
}
