# bash completion for ctys (installed by scripts/install.sh; or: source this file).
# Asks ctys-complete for the candidates; its answer is read line by line into COMPREPLY,
# never evaluated.
_ctys_complete() {
    local prog="${COMP_WORDS[0]}" helper=ctys-complete
    # .venv/bin/ctys asks the ctys-complete beside it
    if [[ $prog == */* && -x ${prog%/*}/ctys-complete ]]; then
        helper="${prog%/*}/ctys-complete"
    fi
    local -a reply
    mapfile -t reply < <("$helper" --shell bash --point "$COMP_POINT" \
        --breaks "$COMP_WORDBREAKS" -- "$COMP_LINE" 2>/dev/null)
    [[ ${#reply[@]} -gt 0 ]] || return 0
    if [[ ${reply[0]} == nospace ]]; then
        compopt -o nospace 2>/dev/null
    fi
    COMPREPLY=("${reply[@]:1}")
}
complete -F _ctys_complete ctys
# bash-completion loads this file at the first Tab of ".venv/bin/ctys ..." and then retries
# with the compspec of that very word: give it one too, so the first Tab completes.
if [[ ${COMP_WORDS[0]-} == */ctys ]]; then
    complete -F _ctys_complete "${COMP_WORDS[0]}"
fi
